"""Colorize, review and fix in real Blender with the real engine subprocess (.venv, CPU).

One engine serves the whole module (the add-on keeps one per session); tests that kill it or
change the interpreter leave the next test to start a fresh one, as Blender would.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest
import shot_art
from fake_engine_python import fake_python
from shot_art import ENGINE_PYTHON, read_png, write_png

from dacon_blender_addon import compat, engine, jobs, results, shots

if not ENGINE_PYTHON.is_file():
    pytest.skip(f"no engine interpreter at {ENGINE_PYTHON} (run scripts/setup_env.sh)",
                allow_module_level=True)

PY = str(ENGINE_PYTHON)
START = 11  # the shot's first scene frame (frame numbers in file names are 1..N)
FLAT = "; to keep flat colors: view transform AgX -> Standard"  # a new scene's AgX is set
N = 3


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shot_art.make_art(tmp_path_factory.mktemp("art"), frames=N)


@pytest.fixture(scope="module")
def cli_out(art: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI's output for the same shot and reference (the pixel-wise expectation)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    shot_art.cli_colorize(art["line"], [(art["ref"], art["ref_line"])], out)
    return out


@pytest.fixture(autouse=True)
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operators find the engine through $DACON_ENGINE_PYTHON (no add-on preferences here)."""
    monkeypatch.setenv("DACON_ENGINE_PYTHON", PY)


def _shot(tmp_path: Path, art: dict[str, Any], blocker: bool = True) -> Any:
    """A saved .blend with the line art at channel 2 from frame 11, one reference sheet, and
    (``blocker``) another strip on channel 3 over part of the shot."""
    scene = bpy.context.scene
    coll = compat.ensure_top_strips(scene)
    strip = coll.new_image(name="line", filepath=str(art["line"][0]), channel=2, frame_start=START)
    for path in art["line"][1:]:
        strip.elements.append(path.name)
    if blocker:
        coll.new_image(name="title", filepath=str(art["ref"]), channel=3, frame_start=START + 2)
    shots.make_shot(strip)
    shots.add_reference(strip, color_path=str(art["ref"]), line_path=str(art["ref_line"]))
    compat.set_active_strip(scene, strip)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    return compat.find_strip(scene, "line")


def _colored(tmp_path: Path, art: dict[str, Any], cli_out: Path, strip: Any = None) -> Any:
    """A shot already colored: the CLI's frames (equal to the add-on's, see the first test)
    in its output folder and its result strip placed by the add-on, without an engine job."""
    strip = strip or _shot(tmp_path, art, blocker=False)
    out = tmp_path / "dacon" / "line"
    shutil.copytree(cli_out, out)
    results.add_result_strip(bpy.context.scene, strip, str(out))
    return strip


def _run(job: jobs.ShotJob, timeout: float = 180) -> jobs.ShotJob:
    job.wait(timeout)
    return job


def _wait_running(job: jobs.ShotJob, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while job.state == jobs.STARTING:
        job.update()
        assert time.monotonic() < end, job.message
        time.sleep(0.02)


def _render_frame(scene: Any, frame: int, out_png: Path) -> np.ndarray:
    """The sequencer's picture at ``frame``: Workbench, 96 px, RGBA PNG, sRGB in = sRGB out."""
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x = render.resolution_y = 96
    render.resolution_percentage = 100
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    render.filepath = str(out_png)
    scene.frame_set(frame)
    bpy.ops.render.render(write_still=True)
    return read_png(out_png)


def _strips() -> list[Any]:
    return list(compat.top_strips(bpy.context.scene))


def test_colorize_adds_frame_aligned_result_strip_equal_to_cli(addon: Any, art: dict[str, Any],
                                                                cli_out: Path,
                                                                tmp_path: Path) -> None:
    strip = _shot(tmp_path, art)
    scene = bpy.context.scene
    job = jobs.start_colorize(scene, strip)
    assert job.state == jobs.STARTING and jobs.job_for(strip) is job
    _run(job)
    assert job.state == jobs.DONE, job.error
    assert jobs.job_for(strip) is None
    status = bpy.context.window_manager.dacon_job
    assert (status.state, status.running, status.done, status.total) == ("done", False, N, N)

    result = results.result_strip(scene, strip)
    assert result is not None and result.name == job.strip_name == "line.color"
    assert result.channel == 4  # channel 3 is taken by "title" over part of the shot's range
    assert compat.strip_range(result) == compat.strip_range(strip) == (START, START + N)
    assert result.blend_type == results.RESULT_BLEND == "ALPHA_OVER"
    assert result.select and compat.active_strip(scene) == result
    assert [s.name for s in _strips() if s.select] == ["line.color"]
    out = tmp_path / "dacon" / "line"
    assert result.directory == "//dacon/line/"  # relative to the .blend, like the output folder
    for frame in range(START, START + N):
        k = frame - START + 1
        elem = result.strip_elem_from_frame(frame)
        assert elem.filename == f"line_{k:04d}.png"
        assert shots.frame_file(strip, frame).endswith(f"line_{k:04d}.png")
        mine, cli = read_png(out / elem.filename), read_png(cli_out / elem.filename)
        assert mine.shape == (96, 96, 4)
        assert np.array_equal(mine, cli), f"frame {k} differs from the CLI's output"
    p = shot_art.points(1)
    assert tuple(read_png(out / "line_0001.png")[p["left"]][:3]) == shot_art.LEFT
    # the panel finds the shot from its (active) result strip
    assert shots.shot_for(scene, result) == strip

    # Re-run (the operator, run to the end as in background mode): files replaced, one strip
    result.name = "renamed by the user"
    result.channel = 6
    before = (out / "line_0002.png").stat().st_mtime_ns
    time.sleep(0.01)
    # INVOKE (the UI's call) runs to the end in background mode: no event loop for a modal
    assert bpy.ops.dacon.colorize_shot("INVOKE_DEFAULT", strip="line") == {"FINISHED"}
    assert (out / "line_0002.png").stat().st_mtime_ns > before
    assert sorted(s.name for s in _strips()) == ["line", "renamed by the user", "title"]
    again = results.result_strip(scene, strip)
    assert (again.name, again.channel) == ("renamed by the user", 6)
    assert compat.strip_range(again) == (START, START + N)


@pytest.mark.parametrize("mode, layout", [("keyframe", "frames"), ("consecutive", "stages")])
def test_worker_processes_from_the_preferences_color_like_one_process(
        addon: Any, art: dict[str, Any], cli_out: Path, tmp_path: Path, mode: str,
        layout: str) -> None:
    """Worker Processes (add-on preferences) reach the engine, which splits the job (whole
    frames on the CPU in keyframe mode, stage workers feeding the model when frames chain);
    the frames equal the one-process CLI's (keyframe) and the keyframe ones where the
    chain does not change them (frame 1)."""
    from types import SimpleNamespace

    strip = _shot(tmp_path, art)
    strip.dacon.mode = mode
    prefs = SimpleNamespace(python="", model="default", device="cpu", workers=2,
                            dinov2_weights="")
    job = _run(jobs.start_colorize(bpy.context.scene, strip, prefs=prefs))
    assert job.request["workers"] == 2
    assert job.state == jobs.DONE, job.error
    assert (job.result["workers"], job.result["layout"]) == (2, layout)
    out = tmp_path / "dacon" / "line"
    names = sorted(p.name for p in out.glob("line_*.png"))
    assert len(names) == N
    for name in names if mode == "keyframe" else names[:1]:
        assert np.array_equal(read_png(out / name), read_png(cli_out / name)), name


def test_render_shows_the_frames_as_they_are_on_disk(addon: Any, art: dict[str, Any],
                                                    cli_out: Path, tmp_path: Path) -> None:
    """The result strip is the final frame: a frame fixed on disk (here a fill painted over
    a line) renders as fixed, and nothing of the line art under it shows."""
    strip = _colored(tmp_path, art, cli_out)
    scene = bpy.context.scene
    k = 2
    p = shot_art.points(k)
    frame_png = tmp_path / "dacon" / "line" / f"line_{k:04d}.png"
    colored = read_png(frame_png)
    row, col = p["line"]
    colored[row - 1:row + 3, col - 6:col + 6, :3] = shot_art.TOP_RIGHT
    write_png(frame_png, colored)
    results.result_strip(scene, strip).invalidate_cache("RAW")

    img = _render_frame(scene, START + k - 1,
                        Path(os.environ.get("DACON_RENDER_PNG") or tmp_path / "render.png"))
    assert np.abs(img.astype(int) - colored.astype(int)).max() <= 2
    assert tuple(img[p["line"]][:3]) == shot_art.TOP_RIGHT


def _drive_until(job: jobs.ShotJob, ready: Any, timeout: float = 60) -> None:
    """Call ``job.update()`` as the modal timer does until ``ready()``."""
    end = time.monotonic() + timeout
    while not ready():
        assert not job.update() or ready(), job.message
        assert time.monotonic() < end, job.status_text()
        time.sleep(0.01)


def test_cancel_mid_job_says_so_and_keeps_the_finished_frames(
        addon: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that lags one frame behind the cancel (FAKE_LATE_FRAMES=1): the panel says
    "cancelling..." at once, counts the late frame, and the result strip shows what finished."""
    art = shot_art.make_art(tmp_path / "art5", frames=5)
    monkeypatch.setenv("DACON_ENGINE_PYTHON", fake_python(tmp_path / "fake", FAKE_HOLD_AFTER="2",
                                                          FAKE_LATE_FRAMES="1"))
    strip = _shot(tmp_path, art)
    strip.dacon.formats = {"json"}
    scene = bpy.context.scene
    job = jobs.start_colorize(scene, strip)
    assert job.request["formats"] == ["png", "json"]  # the result strip needs the PNGs
    _drive_until(job, lambda: job.progress == (2, 5))
    status = bpy.context.window_manager.dacon_job
    job.cancel()
    assert job.cancelling and status.message == "cancelling..." and status.running
    assert job.status_text() == "DACoN colorize 'line': cancelling... (2/5 frames done)"
    _drive_until(job, lambda: job.done)
    assert job.state == jobs.CANCELLED and job.error is None
    assert job.message == ("cancelled after 3/5 frames; the 3 colored frames of the shot are "
                           "in 'line.color'" + FLAT)
    assert (status.state, status.running, status.done) == ("cancelled", False, 3)
    result = results.result_strip(scene, strip)
    assert result is not None and result.name == job.strip_name
    out = tmp_path / "dacon" / "line"
    assert sorted(p.name for p in out.glob("*.png")) == [f"line_{k:04d}.png" for k in (1, 2, 3)]
    assert bpy.ops.dacon.cancel_job() == {"FINISHED"}  # nothing running: harmless
    assert engine.current_client().alive  # the engine stays up for the next job


def test_engine_killed_mid_job_is_reported_and_next_run_recovers(
        addon: Any, art: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DACON_ENGINE_PYTHON", fake_python(tmp_path / "fake", FAKE_HOLD_AFTER="2"))
    strip = _shot(tmp_path, art)
    scene = bpy.context.scene
    job = jobs.start_colorize(scene, strip)
    _drive_until(job, lambda: job.progress == (2, N))
    out = tmp_path / "dacon" / "line"
    leftovers = [".line_0003.k9x2ab7q.tmp.png", "..line_0003.k9x2ab7q.tmp.p2m4zz1c.tmp.png",
                 ".line_0003.k9x2ab7q.tmp.json"]  # what an engine killed mid-write leaves
    for name in leftovers:
        (out / name).write_bytes(b"")
    old = engine.current_client()
    os.kill(old.pid, signal.SIGKILL)
    _drive_until(job, lambda: job.done)
    assert job.state == jobs.FAILED
    assert job.error == ("the engine stopped unexpectedly (killed by SIGKILL); the 2 colored "
                         "frames of the shot are in 'line.color'" + FLAT)
    assert bpy.context.window_manager.dacon_job.state == "failed"
    assert results.result_strip(scene, strip) is not None  # the finished frames are shown
    # the next run starts a fresh engine by itself
    monkeypatch.setenv("DACON_ENGINE_PYTHON", PY)
    assert bpy.ops.dacon.colorize_shot(strip="line") == {"FINISHED"}
    assert engine.current_client().pid != old.pid
    assert bpy.context.window_manager.dacon_job.done == N
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # cleared


def test_engine_that_exits_at_once_is_named(addon: Any, art: dict[str, Any], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _shot(tmp_path, art)
    monkeypatch.setenv("DACON_ENGINE_PYTHON", "/usr/bin/true")
    with pytest.raises(RuntimeError, match=r"/usr/bin/true: the engine exited at once "
                                           r"\(exit code 0\) and printed nothing"):
        bpy.ops.dacon.colorize_shot(strip="line")
    broken = fake_python(tmp_path / "fake", FAKE_STDERR="venv broken: libtorch missing",
                         FAKE_EXIT="3")
    monkeypatch.setenv("DACON_ENGINE_PYTHON", broken)
    job = jobs.start_colorize(bpy.context.scene, compat.find_strip(bpy.context.scene, "line"))
    job.wait(30)
    assert job.error == f"{broken}: the engine exited at once (exit code 3): venv broken: " \
                        "libtorch missing"


def test_missing_interpreter_and_bad_image_are_reported(addon: Any, art: dict[str, Any],
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    strip = _shot(tmp_path, art)
    scene = bpy.context.scene
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(tmp_path / "no" / "python"))
    with pytest.raises(RuntimeError, match="no such interpreter"):
        bpy.ops.dacon.colorize_shot(strip="line")
    assert bpy.context.window_manager.dacon_job.state == "failed"
    monkeypatch.setenv("DACON_ENGINE_PYTHON", PY)

    # a broken line-art frame: the engine's one-line message names the file
    bad = tmp_path / "bad"
    for path in art["line"]:
        (bad / path.name).parent.mkdir(exist_ok=True)
        (bad / path.name).write_bytes(path.read_bytes())
    (bad / "line_0003.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    strip.directory = str(bad) + os.sep
    with pytest.raises(RuntimeError, match="line_0003.png"):
        bpy.ops.dacon.colorize_shot(strip="line")
    status = bpy.context.window_manager.dacon_job
    assert status.state == "failed" and "line_0003.png" in status.message
    assert "\n" not in status.message
    assert results.result_strip(scene, strip) is None


def test_review_strip_and_jump_to_worst_frame(addon: Any, art: dict[str, Any], cli_out: Path,
                                              tmp_path: Path) -> None:
    strip = _shot(tmp_path, art, blocker=False)
    scene = bpy.context.scene
    with pytest.raises(RuntimeError, match="colorize it first"):
        bpy.ops.dacon.review_shot(strip="line")
    strip = _colored(tmp_path, art, cli_out, strip)
    with pytest.raises(RuntimeError, match="no review yet"):
        bpy.ops.dacon.jump_to_worst(strip="line")
    strip.dacon.review_threshold = 0.6
    job = _run(jobs.start_review(scene, strip))
    assert job.state == jobs.DONE, job.error
    assert job.result["worst"] == "line_0003" and "line_0003" in job.message
    review = results.review_strip(scene, strip)
    result = results.result_strip(scene, strip)
    assert review.channel == result.channel + 1 == strip.channel + 2
    assert compat.strip_range(review) == compat.strip_range(strip)
    assert review.blend_type == "ALPHA_OVER"
    folder = tmp_path / "dacon" / "line" / "review"
    assert [review.strip_elem_from_frame(f).filename for f in range(START, START + N)] == \
        [f"line_{k:04d}.png" for k in range(1, N + 1)]
    highlight = read_png(folder / "line_0003.png")
    assert highlight[:, :, 3].max() > 0 and read_png(folder / "line_0001.png")[:, :, 3].max() == 0

    scene.frame_set(START)
    compat.set_active_strip(scene, review)  # operators act on the shot of a review strip too
    assert bpy.ops.dacon.jump_to_worst() == {"FINISHED"}
    assert scene.frame_current == START + 2
    # review again with another threshold: same strip, nothing below 0 -> no worst frame
    assert bpy.ops.dacon.review_shot(strip="line") == {"FINISHED"}
    strip.dacon.review_threshold = 0.0
    assert _run(jobs.start_review(scene, strip)).result["worst"] is None
    assert results.review_strip(scene, strip) == review
    assert len(_strips()) == 3
    with pytest.raises(RuntimeError, match="below the review threshold"):
        bpy.ops.dacon.jump_to_worst(strip="line")


def test_fixed_frame_as_reference_propagates_to_the_rest(addon: Any, art: dict[str, Any],
                                                         cli_out: Path, tmp_path: Path) -> None:
    strip = _colored(tmp_path, art, cli_out)
    scene = bpy.context.scene
    out = tmp_path / "dacon" / "line"
    with pytest.raises(RuntimeError, match="shows nothing at frame 10"):
        scene.frame_set(START - 1)
        bpy.ops.dacon.use_frame_as_reference(strip="line")

    # The artist repaints the top-right region of frame 2 yellow in Blender's Image editor
    # (and forgets to save: Use Frame as Reference saves it) ...
    yellow = (250, 220, 30)
    k = 2
    fixed = read_png(out / f"line_{k:04d}.png")
    region = np.all(fixed[:, :, :3] == shot_art.TOP_RIGHT, axis=2)
    assert region.sum() > 200
    fixed[region, :3] = yellow
    painted = bpy.data.images.load(str(out / f"line_{k:04d}.png"))
    painted.pixels.foreach_set((fixed[::-1].astype(np.float32) / 255.0).ravel())
    assert painted.is_dirty
    before = {n: read_png(out / f"line_{n:04d}.png") for n in (1, 3)}
    for n in (3,):
        assert tuple(before[n][shot_art.points(n)["top_right"]][:3]) == shot_art.TOP_RIGHT

    # ... uses that frame as a reference and colorizes from there.
    scene.frame_set(START + k - 1)
    assert bpy.ops.dacon.use_frame_as_reference(strip="line") == {"FINISHED"}
    assert not painted.is_dirty and np.array_equal(read_png(out / "line_0002.png"), fixed)
    shot = strip.dacon
    assert len(shot.references) == 2
    ref = shot.references[1]
    assert ref.color_path == "//dacon/line/references/line_0002.png"
    assert os.path.normpath(bpy.path.abspath(ref.line_path)) == str(art["line"][1])
    assert np.array_equal(read_png(out / "references" / "line_0002.png"), fixed)
    assert bpy.ops.dacon.use_frame_as_reference(strip="line") == {"FINISHED"}
    assert len(shot.references) == 2  # the same frame again: refreshed, not added twice
    again, added = jobs.use_frame_as_reference(scene, strip)
    assert again == shot.references[1] and added is False  # "refreshed", not "added"

    # a review made before the fix: its highlights must not outlive the frames they judged
    review = _run(jobs.start_review(scene, strip))
    assert review.state == jobs.DONE, review.error
    stale = out / "review" / "line_0003.png"
    magenta = np.zeros((96, 96, 4), np.uint8)
    magenta[:] = (255, 0, 255, 255)
    write_png(stale, magenta)

    job = jobs.colorize_from_here(scene, strip)
    assert job.request["frames"] == "2-3" and job.request["overwrite"] is True
    _run(job)
    assert job.state == jobs.DONE, job.error
    assert job.result["frames_done"] == 2
    assert job.message.endswith("; review updated")
    assert not np.array_equal(read_png(stale), magenta)  # made again for the new colors
    assert compat.active_strip(scene) == results.result_strip(scene, strip)
    for n in (3,):
        now = read_png(out / f"line_{n:04d}.png")
        p = shot_art.points(n)
        assert tuple(now[p["top_right"]][:3]) == yellow, f"frame {n} did not take the fix"
        assert tuple(now[p["left"]][:3]) == shot_art.LEFT
    assert np.array_equal(read_png(out / "line_0001.png"), before[1])  # before "here": kept
    assert tuple(read_png(out / "line_0002.png")[shot_art.points(2)["top_right"]][:3]) == yellow
    assert sum(1 for s in _strips() if s.name.startswith("line.color")) == 1

    # the operator does the same from the current frame
    scene.frame_set(START + 2)
    assert bpy.ops.dacon.colorize_from_here(strip="line") == {"FINISHED"}
    assert bpy.context.window_manager.dacon_job.total == 1


def test_unregister_stops_the_engine(addon: Any, art: dict[str, Any], tmp_path: Path) -> None:
    client = engine.session_client(PY)
    assert client.alive
    addon.unregister()
    try:
        assert not client.alive and engine.current_client() is None
    finally:
        addon.register()
