"""The shot's matching options (Use Neighboring Regions / Match Mirrored Poses) in real Blender.

They are ``graph_refine`` and ``mirror`` on the strip's ``dacon`` settings, on by default, and
go into the colorize request as the engine's fields of the same names. The engine tests run
the real engine (.venv, CPU) on the tiny generated shot and read back what it recorded in each
frame's JSON (``matching``), so a value lost or swapped anywhere on the way shows up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import bpy
import pytest
import shot_art
from shot_art import ENGINE_PYTHON, ROOT

from dacon_blender_addon import compat, jobs, properties, shots

N = 2  # frames: enough for a record per frame, cheap on a shared CPU


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shot_art.make_art(tmp_path_factory.mktemp("art"), frames=N)


def _shot(tmp_path: Path, art: dict[str, Any], name: str = "line") -> Any:
    """A saved .blend with one shot (the line art at channel 1) and one reference sheet."""
    scene = bpy.context.scene
    coll = compat.ensure_top_strips(scene)
    strip = coll.new_image(name=name, filepath=str(art["line"][0]), channel=1, frame_start=1)
    for path in art["line"][1:]:
        strip.elements.append(path.name)
    shots.make_shot(strip)
    shots.add_reference(strip, color_path=str(art["ref"]), line_path=str(art["ref_line"]))
    compat.set_active_strip(scene, strip)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    return compat.find_strip(scene, name)


def _reload(blend: Path, name: str = "line") -> Any:
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    return compat.find_strip(bpy.context.scene, name)


def _records(out: Path) -> list[dict[str, Any]]:
    files = sorted(out.glob("line_*.json"))
    assert len(files) == N, sorted(p.name for p in out.iterdir())
    return [json.loads(p.read_text(encoding="utf-8")) for p in files]


def test_options_are_on_by_default_and_described(addon: Any, art: dict[str, Any],
                                                 tmp_path: Path) -> None:
    strip = _shot(tmp_path, art)
    shot = strip.dacon
    assert (shot.graph_refine, shot.mirror) == (True, True)
    rna = properties.DaconShot.bl_rna.properties
    assert rna["graph_refine"].name == "Use Neighboring Regions"
    assert rna["mirror"].name == "Match Mirrored Poses"
    for key in ("graph_refine", "mirror"):
        assert rna[key].default is True and len(rna[key].description) > 40
    request = shots.colorize_request(bpy.context.scene, strip)
    assert (request["graph_refine"], request["mirror"]) == (True, True)


def test_a_shot_saved_without_the_options_reads_the_defaults(addon: Any, art: dict[str, Any],
                                                             tmp_path: Path) -> None:
    """A .blend from before the options has no stored value for them: the defaults apply."""
    strip = _shot(tmp_path, art)
    strip.dacon.graph_refine = False
    strip.dacon.mirror = False
    assert {"graph_refine", "mirror"} <= set(strip.dacon.keys())
    del strip.dacon["graph_refine"], strip.dacon["mirror"]  # what an older add-on saved
    bpy.ops.wm.save_mainfile()
    strip = _reload(tmp_path / "shot.blend")
    assert shots.is_shot(strip) and len(strip.dacon.references) == 1
    assert not {"graph_refine", "mirror"} & set(strip.dacon.keys())
    assert (strip.dacon.graph_refine, strip.dacon.mirror) == (True, True)
    request = shots.colorize_request(bpy.context.scene, strip)
    assert (request["graph_refine"], request["mirror"]) == (True, True)


@pytest.mark.parametrize("graph_refine,mirror",
                         [(False, False), (False, True), (True, False), (True, True)])
def test_request_carries_the_values_set_and_saved(addon: Any, art: dict[str, Any],
                                                  tmp_path: Path, graph_refine: bool,
                                                  mirror: bool) -> None:
    strip = _shot(tmp_path, art)
    strip.dacon.graph_refine = graph_refine
    strip.dacon.mirror = mirror
    bpy.ops.wm.save_mainfile()
    strip = _reload(tmp_path / "shot.blend")
    assert (strip.dacon.graph_refine, strip.dacon.mirror) == (graph_refine, mirror)
    request = shots.colorize_request(bpy.context.scene, strip)
    assert request["graph_refine"] is graph_refine and request["mirror"] is mirror
    # the fields the engine's protocol knows, with the JSON type it checks (true/false)
    from dacon_engine import protocol

    checked, unknown = protocol.check_request(
        {"type": "colorize", **{k: list(v) if isinstance(v, tuple) else v
                                for k, v in request.items()}})
    assert unknown == []
    assert (checked["graph_refine"], checked["mirror"]) == (graph_refine, mirror)


# --- through the real engine -----------------------------------------------------------------

needs_engine = pytest.mark.skipif(not ENGINE_PYTHON.is_file(),
                                  reason=f"no engine interpreter at {ENGINE_PYTHON} "
                                         "(run scripts/setup_env.sh)")


@needs_engine
def test_engine_gets_what_the_user_set(addon: Any, art: dict[str, Any], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each option off and on, through the operator the panel calls and the running engine."""
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))
    strip = _shot(tmp_path, art)
    scene = bpy.context.scene
    out = tmp_path / "dacon" / "line"
    for graph_refine, mirror in ((False, False), (True, False), (False, True), (True, True)):
        strip.dacon.graph_refine = graph_refine
        strip.dacon.mirror = mirror
        job = jobs.start_colorize(scene, strip)
        assert (job.request["graph_refine"], job.request["mirror"]) == (graph_refine, mirror)
        job.wait(300)
        assert job.state == jobs.DONE, job.error
        for record in _records(out):
            matching = record["matching"]
            assert (matching["graph_refine"], matching["mirror"]) == (graph_refine, mirror)
            if not mirror:
                assert matching["mirrored"] is False
        strip = compat.find_strip(scene, "line")
    # the operator (the panel's button) reads the same settings
    strip.dacon.mirror = False
    assert bpy.ops.dacon.colorize_shot(strip="line") == {"FINISHED"}
    assert [r["matching"]["mirror"] for r in _records(out)] == [False] * N
    assert [r["matching"]["graph_refine"] for r in _records(out)] == [True] * N


@needs_engine
def test_match_mirrored_poses_colors_a_shot_drawn_facing_the_other_way(
        addon: Any, art: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sheet is the shot's character flipped left-right: with the option on the engine
    matches against the sheet mirrored (and gets the colors right), off it does not."""
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))
    flip = tmp_path / "flipped"
    for name in ("ref", "ref_line"):
        shot_art.write_png(flip / f"{name}.png", shot_art.read_png(art[name])[:, ::-1].copy())
    strip = _shot(tmp_path, {**art, "ref": flip / "ref.png", "ref_line": flip / "ref_line.png"})
    out = tmp_path / "dacon" / "line"
    for mirror in (True, False):
        strip.dacon.mirror = mirror
        assert bpy.ops.dacon.colorize_shot(strip="line") == {"FINISHED"}
        assert [r["matching"]["mirrored"] for r in _records(out)] == [mirror] * N
        strip = compat.find_strip(bpy.context.scene, "line")
        if mirror:
            for k in range(1, N + 1):
                colored = shot_art.read_png(out / f"line_{k:04d}.png")
                p = shot_art.points(k)
                for region, color in (("left", shot_art.LEFT), ("top_right", shot_art.TOP_RIGHT),
                                      ("bottom_right", shot_art.BOTTOM_RIGHT)):
                    assert tuple(colored[p[region]][:3]) == color, (k, region)


def _saved_request(tmp_path: Path, strip: Any, **settings: Any) -> tuple[dict, dict]:
    """Set shot ``settings``, save and reload the .blend: the shot's colorize request and
    the engine protocol's reading of it (no unknown fields)."""
    from dacon_engine import protocol

    for name, value in settings.items():
        setattr(strip.dacon, name, value)
    bpy.ops.wm.save_mainfile()
    strip = _reload(tmp_path / "shot.blend")
    request = shots.colorize_request(bpy.context.scene, strip)
    checked, unknown = protocol.check_request({"type": "colorize", **{
        k: list(v) if isinstance(v, tuple) else v for k, v in request.items()}})
    assert unknown == []
    return request, checked


@pytest.mark.parametrize("choice, zooms", [("OFF", []), ("2", [2.0]), ("2,3", [2.0, 3.0])])
def test_closeup_views_reach_the_request_and_survive_saving(
        addon: Any, art: dict[str, Any], tmp_path: Path, choice: str, zooms: list) -> None:
    strip = _shot(tmp_path, art)
    assert strip.dacon.closeup_views == "OFF"
    request, checked = _saved_request(tmp_path, strip, closeup_views=choice)
    assert request["reference_zooms"] == zooms and checked["reference_zooms"] == zooms


@pytest.mark.parametrize("learn, seconds, sent", [(False, 60.0, 0.0), (True, 60.0, 60.0),
                                                 (True, 12.5, 12.5)])
def test_learn_this_character_reaches_the_request_and_survives_saving(
        addon: Any, art: dict[str, Any], tmp_path: Path, learn: bool, seconds: float,
        sent: float) -> None:
    strip = _shot(tmp_path, art)
    assert (strip.dacon.learn_character, strip.dacon.adapt_seconds) == (False, 60.0)
    request, checked = _saved_request(tmp_path, strip, learn_character=learn,
                                      adapt_seconds=seconds)
    assert request["adapt_seconds"] == sent and checked["adapt_seconds"] == sent


@needs_engine
def test_learn_this_character_goes_through_the_engine(addon: Any, art: dict[str, Any],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine adapts before coloring and every frame's record says what adaptation did
    (one second is too short to make pairs here: the shipped model is kept, and says why)."""
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))
    monkeypatch.setenv("DACON_CACHE_DIR", str(tmp_path / "cache"))
    strip = _shot(tmp_path, art)
    strip.dacon.learn_character = True
    strip.dacon.adapt_seconds = 1.0
    assert bpy.ops.dacon.colorize_shot(strip="line") == {"FINISHED"}
    records = _records(tmp_path / "dacon" / "line")
    assert records
    for record in records:
        adaptation = record["matching"]["adaptation"]
        assert adaptation["used"] is False and "training pairs" in adaptation["reason"]


@needs_engine
def test_closeup_views_go_through_the_engine(addon: Any, art: dict[str, Any], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With Close-up Views the engine matches against the sheet magnified too: the frames'
    records name the magnified sheets among their references."""
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))
    strip = _shot(tmp_path, art)
    strip.dacon.closeup_views = "2"
    assert bpy.ops.dacon.colorize_shot(strip="line") == {"FINISHED"}
    for record in _records(tmp_path / "dacon" / "line"):
        assert record["matching"]["reference_zooms"] == [2.0]
        assert any("@2x" in name for name in record["references"])


@needs_engine
def test_batch_colorizes_with_each_shots_own_options(addon: Any, art: dict[str, Any],
                                                     tmp_path: Path) -> None:
    """scripts/dacon_batch.py takes the options from the shot (it has no flags of its own)."""
    scene = bpy.context.scene
    coll = compat.ensure_top_strips(scene)
    for name, channel, (graph_refine, mirror) in (("plain", 1, (False, False)),
                                                  ("shipped", 2, (True, True))):
        strip = coll.new_image(name=name, filepath=str(art["line"][0]), channel=channel,
                               frame_start=1)
        for path in art["line"][1:]:
            strip.elements.append(path.name)
        shots.make_shot(strip)
        shots.add_reference(strip, color_path=str(art["ref"]), line_path=str(art["ref_line"]))
        strip.dacon.graph_refine = graph_refine
        strip.dacon.mirror = mirror
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "dacon_batch.py"), str(blend),
                           "--python", str(ENGINE_PYTHON), "--no-save"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, expected in (("plain", (False, False)), ("shipped", (True, True))):
        for record in _records(tmp_path / "dacon" / name):
            assert (record["matching"]["graph_refine"], record["matching"]["mirror"]) == expected
