"""Issue 24's engine faults: inputs never overwritten, frames without regions, leftover
temp files, output-folder claims, option refusals, and kills/signals of `dacon colorize`
(real subprocesses on tiny shots)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dacon_engine.errors import DaconError
from dacon_engine.fileio import files, images as imageio
from dacon_engine.jobs.cli import main
from dacon_engine.jobs.pipeline import ColorizeJob
from dacon_engine.outputs.write import read_exr_outputs
from tests.support.clips import make_shot, save, temp_files
from tests.support.processes import alive as _alive, children as _children, wait as _wait

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BLACK = np.zeros((96, 96, 4), np.uint8)
BLACK[..., 3] = 255


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    return make_shot(tmp_path / "shot", n=4)


def colorize_args(shot: dict, out: Path, *extra) -> list:
    return ["colorize", shot["root"] / "line", "--ref", shot["ref"], "--ref-line",
            shot["ref_line"], "--out", out, "--model", "baseline", "--quiet", *extra]


# -- 1. outputs never replace inputs -------------------------------------------------------
@pytest.mark.parametrize("flag", ["--resume", "--overwrite", None])
def test_output_folder_of_the_targets_is_refused_and_the_line_art_kept(shot, capsys, flag):
    line = shot["root"] / "line"
    before = snapshot(line)
    code, err = run(capsys, *colorize_args(shot, line, *([flag] if flag else [])))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "0001.png" in err and str(line) in err and "line art" in err
    assert snapshot(line) == before


def test_same_folder_through_a_symlink_is_refused(shot, tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(shot["root"] / "line", target_is_directory=True)
    before = snapshot(shot["root"] / "line")
    code, err = run(capsys, *colorize_args(shot, link, "--resume"))
    assert code == 2 and "line art" in err, err
    assert snapshot(shot["root"] / "line") == before


def test_a_reference_named_like_an_output_is_refused(shot, tmp_path, capsys):
    out = tmp_path / "out"
    ref = save(out / "0002.png", np.asarray(Image.open(shot["ref"])))  # a key in --out
    before = ref.read_bytes()
    code, err = run(capsys, "colorize", shot["root"] / "line", "--ref", ref, "--out", out,
                    "--model", "baseline", "--quiet", "--overwrite")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(ref) in err and "overwritten" in err
    assert ref.read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["0002.png"]


def test_segment_into_its_input_folder_is_refused(shot, capsys):
    line = shot["root"] / "line"
    before = snapshot(line)
    code, err = run(capsys, "segment", line, "--out", line, "--overwrite", "--quiet")
    assert code == 2 and "0001.png" in err, err
    assert snapshot(line) == before


def test_review_into_the_output_folder_is_refused(shot, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, *colorize_args(shot, out))[0] == 0
    before = snapshot(out)
    code, err = run(capsys, "review", out, "--review-dir", out)
    assert code == 2 and "0001.png" in err, err
    assert snapshot(out) == before


# -- 5. a frame without any enclosed region ---------------------------------------------
@pytest.mark.parametrize("mode, workers", [("keyframe", "1"), ("consecutive", "1"),
                                           ("nearest", "1"), ("consecutive", "2")])
def test_a_black_frame_is_its_line_art_and_the_other_frames_are_colored(shot, tmp_path,
                                                                        capsys, mode, workers):
    """(``--workers 2`` in consecutive mode: stage workers, which send no network input
    for the black frame.)"""
    black = save(shot["root"] / "line" / "0003.png", BLACK)
    out = tmp_path / mode
    code, err = run(capsys, *colorize_args(shot, out, "--mode", mode, "--format", "png,exr",
                                           "--batch-size", "4", "--workers", workers))
    assert code == 0, err
    assert [ln for ln in err.splitlines() if "no enclosed region" in ln] == \
        [ln for ln in err.splitlines() if "0003.png" in ln] != []
    for k in (1, 2, 4):
        rec = json.loads((out / f"{k:04d}.json").read_text())
        assert rec["n_segments"] > 0
    rec = json.loads((out / "0003.json").read_text())
    assert rec["n_segments"] == 0 and rec["segments"] == []
    assert np.array_equal(imageio.read_image(out / "0003.png"), imageio.read_image(black))
    assert not read_exr_outputs(out / "0003.exr")["segment.id"].any()
    if mode == "consecutive":  # 0004 chains from 0002 through the black frame
        refs = {s["reference"] for s in json.loads((out / "0004.json").read_text())["segments"]}
        assert refs <= {str(shot["root"] / "line" / "0002.png"), str(shot["ref"])}
    code, err = run(capsys, *colorize_args(shot, out, "--mode", mode, "--format", "png,exr",
                                           "--resume"))
    assert code == 0, err


def test_resume_from_a_black_frame_chains_like_an_unbroken_run(shot, tmp_path, capsys):
    save(shot["root"] / "line" / "0003.png", BLACK)
    whole, part = tmp_path / "whole", tmp_path / "part"
    args = ("--mode", "consecutive")
    assert run(capsys, *colorize_args(shot, whole, *args))[0] == 0
    assert run(capsys, *colorize_args(shot, part, *args, "--frames", "1-3"))[0] == 0
    assert run(capsys, *colorize_args(shot, part, *args, "--resume"))[0] == 0
    assert (part / "0004.png").read_bytes() == (whole / "0004.png").read_bytes()


# -- 4. temp files ---------------------------------------------------------------------
LEFTOVERS = (".0002.abcd1234.tmp.png", "..0002.abcd1234.tmp.efgh5678.tmp.png",
             ".0002.06_h3rhr.tmp.json", ".0004.zz_99xyz.tmp.exr")


def test_resume_clears_what_a_killed_run_left_and_readers_ignore_temps(shot, tmp_path,
                                                                       capsys):
    out = tmp_path / "out"
    assert run(capsys, *colorize_args(shot, out))[0] == 0
    for name in LEFTOVERS:
        (out / name).write_bytes(b"")
    (out / "0003.png").unlink()  # a frame the killed run did not finish
    assert run(capsys, "review", out, "--review-dir", tmp_path / "rev")[0] == 0  # ignored
    assert files.is_temp_name(LEFTOVERS[2]) and not files.is_temp_name("0002.png")
    code, err = run(capsys, *colorize_args(shot, out, "--resume"))
    assert code == 0, err
    assert temp_files(out) == []
    assert (out / "0003.png").is_file()
    assert run(capsys, "palette", shot["ref"], "--out", tmp_path / "p.gpl")[0] == 0
    (out / LEFTOVERS[2]).write_bytes(b"{}")  # a reader meets one mid-write
    code, err = run(capsys, "recolor", out, "--palette", tmp_path / "p.gpl", "--quiet")
    assert code == 0, err


def test_targets_folder_listing_skips_temp_files(shot):
    (shot["root"] / "line" / ".0009.abcd1234.tmp.png").write_bytes(b"")
    assert [p.name for p in files.collect_images([shot["root"] / "line"])] == \
        ["0001.png", "0002.png", "0003.png", "0004.png"]


def test_outputs_make_no_temp_of_a_temp(shot, tmp_path, capsys, monkeypatch):
    made: list[str] = []
    real = files.tempfile.mkstemp

    def spy(*a, **kw):
        fd, name = real(*a, **kw)
        made.append(Path(name).name)
        return fd, name

    monkeypatch.setattr(files.tempfile, "mkstemp", spy)
    assert run(capsys, *colorize_args(shot, tmp_path / "out", "--format", "png,exr"))[0] == 0
    temps = [m for m in made if files.is_temp_name(m)]
    assert len(temps) == 12 and not [m for m in temps if m.startswith("..")], temps


# -- 7. refusals, claims, empty folders ----------------------------------------------------
def job(shot, out, **kw) -> ColorizeJob:
    return ColorizeJob.create([shot["root"] / "line"], out=out, refs=[shot["ref"]],
                              ref_lines=[shot["ref_line"]], model="baseline", quiet=True, **kw)


@pytest.mark.parametrize("kw, words", [
    ({"formats": []}, "--format"), ({"out": ""}, "--out is empty"),
    ({"dinov2_weights": "/x/dinov2.pth", "model": "default"}, "does not use DINOv2")])
def test_options_that_cannot_be_honoured_are_refused(shot, tmp_path, kw, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = {"out": tmp_path / "o", **kw}
    with pytest.raises(DaconError, match=words):
        ColorizeJob.create([shot["root"] / "line"], refs=[shot["ref"]],
                           ref_lines=[shot["ref_line"]], quiet=True,
                           model=args.pop("model", "baseline"), **args)
    assert [p.name for p in tmp_path.iterdir()] == ["shot"]  # no output folder


def test_a_one_pixel_reference_with_mirror(shot, tmp_path, capsys):
    ref = save(tmp_path / "ref1.png", np.full((1, 1, 4), (200, 30, 30, 255), np.uint8))
    code, err = run(capsys, "colorize", shot["lines"][0], "--ref", ref, "--out",
                    tmp_path / "o", "--quiet")  # the default model, mirror on
    assert code == 0, err


def test_a_failed_run_leaves_no_folder_it_created(shot, tmp_path, capsys, monkeypatch):
    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)  # the JSON record: disk full
    out = tmp_path / "new" / "out"
    code, err = run(capsys, *colorize_args(shot, out))
    assert code == 2 and "No space left" in err, err
    assert not out.exists() and (tmp_path / "new").is_dir()


def test_two_jobs_on_the_same_frames_of_one_folder(shot, tmp_path):
    out = tmp_path / "out"
    first = job(shot, out, frames="1-2")
    with pytest.raises(DaconError, match=rf"pid {os.getpid()}") as err:
        job(shot, out, frames="2-4", resume=True)
    assert str(out) in str(err.value) and "0002" in str(err.value)
    other = job(shot, out, frames="3-4")  # disjoint frames (farm chunks) run side by side
    other.run()
    first.run()  # done: its claim ends
    job(shot, out, frames="2-4", resume=True).run()
    assert temp_files(out) == []


def test_a_claim_of_a_killed_job_is_taken_over(shot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys, time; from dacon_engine.jobs.outclaim import claim_frames; "
            f"c = claim_frames({str(out)!r}, ['0001', '0002']); print('held', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DaconError, match=rf"pid {proc.pid}"):
            job(shot, out)
        proc.kill()
        proc.wait(10)
        job(shot, out).run()
        assert temp_files(out) == []
    finally:
        proc.kill()
        proc.wait(10)


# -- 2 and 4: kills and signals of `dacon colorize` ----------------------------------------
def _cmd(shot: dict, out: Path, *extra: str) -> list[str]:
    return [PY, "-m", "dacon_engine.jobs.cli", "colorize", str(shot["root"] / "line"), "--ref",
            str(shot["ref"]), "--ref-line", str(shot["ref_line"]), "--out", str(out),
            "--quiet", "--batch-size", "1", "--device", "cpu", *extra]


def _start(shot: dict, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_cmd(shot, out, *extra), env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_colorize(tmp_path, sig):
    shot = make_shot(tmp_path / "long", n=60)
    out = tmp_path / "out"
    proc = _start(shot, out, "--workers", "2")
    workers: list[int] = []
    try:
        assert _wait(lambda: len(list(out.glob("*.json"))) >= 2), proc.stderr.read()
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(sig)
        proc.wait(60)
        assert _wait(lambda: not any(_alive(w) for w in workers), 10)
        if sig == signal.SIGTERM:
            err = proc.stderr.read().strip()
            assert proc.returncode == 128 + sig and len(err.splitlines()) == 1, err
            assert "stopped by SIGTERM" in err and temp_files(out) == []
    finally:
        proc.kill()
        proc.wait(10)
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    resumed = subprocess.run(_cmd(shot, out, "--resume"), env=ENV, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert temp_files(out) == [] and len(list(out.glob("*.png"))) == 60


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_colorize_within_a_frame_with_one_line(tmp_path, sig):
    shot = make_shot(tmp_path / "long", n=60)
    out = tmp_path / "out"
    line_before = snapshot(shot["root"] / "line")
    proc = _start(shot, out)
    try:
        assert _wait(lambda: len(list(out.glob("*.json"))) >= 2), proc.stderr.read()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 128 + sig, err
    assert len(err.strip().splitlines()) == 1 and signal.Signals(sig).name in err, err
    assert temp_files(out) == []
    pngs = sorted(p.stem for p in out.glob("*.png"))
    assert pngs == sorted(p.stem for p in out.glob("*.json")) and 2 <= len(pngs) < 60
    for p in out.glob("*.png"):
        imageio.read_image(p)
    assert snapshot(shot["root"] / "line") == line_before


@pytest.mark.parametrize("batch", [1, 4])
def test_a_cancel_during_a_network_pass_writes_none_of_its_frames(tmp_path, batch):
    """A cancel that arrives while frames 0005.. are computed: none of them is written, no
    further pass starts, frames written before stay whole, nothing partial is left."""
    long = make_shot(tmp_path / "long", n=12)
    out = tmp_path / "out"
    j = ColorizeJob.create([long["root"] / "line"], out=out, refs=[long["ref"]],
                           ref_lines=[long["ref_line"]], quiet=True, batch_size=batch)
    passes: list[list[str]] = []
    stop: list[bool] = []
    features = j.colorizer.features

    def counting(frames):
        feats = features(frames)
        names = [Path(f.path).name for f in frames if f.path is not None]
        passes.append(names)
        if "0005.png" in names:
            stop.append(True)  # the user pressed Cancel during this pass
        return feats

    j.colorizer.features = counting  # type: ignore[method-assign]
    summary = j.run(should_stop=lambda: bool(stop))
    assert summary.cancelled and stop
    assert "0005.png" in passes[-1]  # no pass after it
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == [f"{k:04d}.png" for k in range(1, summary.frames_done + 1)]
    assert summary.frames_done <= 4 and temp_files(out) == []
    for p in out.glob("*.png"):
        imageio.read_image(p)
