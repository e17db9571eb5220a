"""`dacon farm plan|run` and the Open Job Description bundle (scripts/openjd/), run for
real with `openjd run` (openjd-cli: the runtime a Deadline Cloud worker uses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from tests.support.clips import make_shot, temp_files
from tests.support.processes import wait as _wait

BIN = Path(sys.executable).parent
OPENJD = BIN / "openjd"
DACON = BIN / "dacon"
TEMPLATE = Path(__file__).resolve().parents[2] / "scripts" / "openjd" / "dacon_colorize" / \
    "template.yaml"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
needs_openjd = pytest.mark.skipif(not OPENJD.is_file(), reason="openjd-cli is not installed")


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> dict:
    """16 frames, the colored reference drawn at the last one (nearest chains backwards)."""
    return make_shot(tmp_path_factory.mktemp("farm") / "shot", n=16, ref_frame=16)


def farm_args(shot: dict, out: Path, *extra: str, mode: str = "keyframe") -> list[str]:
    return ["farm", *extra[:1], str(shot["root"] / "line"), "--out", str(out),
            "--refs", str(shot["ref"]), "--ref-lines", str(shot["ref_line"]), "--mode", mode,
            "--colorize-options=--model baseline", *extra[1:]]


def whole_run(shot: dict, out: Path, mode: str, capsys) -> Path:
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(out), "--mode", mode,
                 "--model", "baseline", "--quiet"]) == 0
    capsys.readouterr()
    return out


def same_frames(a: Path, b: Path, n: int = 16) -> None:
    names = [f"{k:04d}.png" for k in range(1, n + 1)]
    assert sorted(p.name for p in a.glob("*.png")) == names
    for name in names:
        assert np.array_equal(read_image(a / name), read_image(b / name)), name


def plan(shot: dict, capsys, tmp_path: Path, *extra: str, mode: str = "keyframe") -> dict:
    code = main(farm_args(shot, tmp_path / "out", "plan", "--json", *extra, mode=mode))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


# -- planning --------------------------------------------------------------------------------
def test_keyframe_chunks_spread_over_the_tasks(shot, capsys, tmp_path):
    p = plan(shot, capsys, tmp_path, "--chunk-size", "5", "--tasks", "3")
    assert [(c["frames"], c["task"], c["after"]) for c in p["chunks"]] == [
        ("1-5", 1, []), ("6-10", 2, []), ("11-15", 3, []), ("16", 1, [])]


def test_a_range_past_the_shot_is_cut_to_its_frames(shot, capsys, tmp_path):
    p = plan(shot, capsys, tmp_path, "--frames", "1-24", "--chunk-size", "8", "--tasks", "4")
    assert [c["frames"] for c in p["chunks"]] == ["1-8", "9-16"]  # no chunk without a frame


def test_nearest_with_the_reference_last_chains_backwards(shot, capsys, tmp_path):
    p = plan(shot, capsys, tmp_path, "--chunk-size", "5", "--tasks", "3", mode="nearest")
    assert [(c["frames"], c["after"], c["task"]) for c in p["chunks"]] == [
        ("1-5", ["6-10"], 1), ("6-10", ["11-15"], 1), ("11-15", ["16"], 1), ("16", [], 1)]


@pytest.mark.parametrize("frames, words", [
    ("1-10,5-16", "ranges 1-10 and 5-16 overlap (frames 5-10 twice)"),
    ("20-30", "20-30"), ("3-x", "--frames")])
def test_bad_frame_specs_are_refused_before_anything_is_written(shot, tmp_path, capsys,
                                                                frames, words):
    out = tmp_path / "out"
    for action in ("plan", "run"):
        extra = ["--task", "1"] if action == "run" else []
        code = main(farm_args(shot, out, action, "--frames", frames, *extra))
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and words in err, err
        assert not out.exists()


def test_options_the_farm_sets_itself_are_refused(shot, tmp_path, capsys):
    code = main([*farm_args(shot, tmp_path / "o", "plan")[:-1],
                 "--colorize-options=--model baseline --overwrite"])
    err = capsys.readouterr().err
    assert code == 2 and "--overwrite is set by dacon farm itself" in err


@pytest.mark.parametrize("mode", ["keyframe", "consecutive", "nearest"])
def test_running_every_task_equals_one_run(shot, tmp_path, capsys, mode):
    out = tmp_path / "farm"
    order = [2, 1] if mode == "keyframe" else [1, 2]  # keyframe tasks in any order
    for task in order:
        assert main(farm_args(shot, out, "run", "--chunk-size", "5", "--tasks", "2",
                              "--task", str(task), mode=mode)) == 0
    capsys.readouterr()
    same_frames(out, whole_run(shot, tmp_path / "whole", mode, capsys))


def test_sigterm_stops_a_farm_task_within_a_frame(tmp_path):
    long = make_shot(tmp_path / "long", n=60)
    out = tmp_path / "out"
    cmd = [str(DACON), "farm", "run", str(long["root"] / "line"), "--out", str(out), "--refs",
           str(long["ref"]), "--ref-lines", str(long["ref_line"]), "--task", "1",
           "--colorize-options=--batch-size 1 --device cpu"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert _wait(lambda: len(list(out.glob("*.json"))) >= 2), proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().startswith("dacon farm: task 1/1: stopped by SIGTERM"), err
    assert len(err.strip().splitlines()) == 1 and temp_files(out) == []


# -- the Open Job Description bundle, run by openjd -------------------------------------------
def openjd(shot: dict, out: Path, *extra: str, mode: str = "keyframe", step: str = "Colorize",
           params: dict | None = None, timeout: float = 300
           ) -> subprocess.CompletedProcess[str]:
    """`openjd run` of the bundle's ``step`` on ``shot`` (baseline model, chunks of 5 frames
    over 2 tasks unless ``params`` say otherwise); ``extra`` are openjd options."""
    job = {"Dacon": str(DACON), "Targets": str(shot["root"] / "line"), "Output": str(out),
           "References": str(shot["ref"]), "ReferenceLines": str(shot["ref_line"]),
           "Mode": mode, "ChunkSize": 5, "Tasks": 2, "ColorizeOptions": "--model baseline",
           **(params or {})}
    cmd = [str(OPENJD), "run", str(TEMPLATE), "--step", step, "--job-param", json.dumps(job),
           *extra]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


@needs_openjd
def test_the_template_passes_openjd_checks():
    r = subprocess.run([str(OPENJD), "check", str(TEMPLATE)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_openjd
@pytest.mark.parametrize("mode", ["keyframe", "nearest"])
def test_openjd_job_equals_one_run_and_a_rerun_keeps_every_frame(shot, tmp_path, capsys, mode):
    out = tmp_path / "farm"
    r = openjd(shot, out, "--run-dependencies", mode=mode)
    assert r.returncode == 0, r.stdout + r.stderr
    same_frames(out, whole_run(shot, tmp_path / "whole", mode, capsys))
    if mode == "nearest":
        return
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = openjd(shot, out, "--run-dependencies")  # a re-queued job: --resume keeps them all
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    assert "colorized 0 of" in r.stdout


@needs_openjd
@pytest.mark.parametrize("frames, words", [
    ("1-10,5-16", "ranges 1-10 and 5-16 overlap"), ("20-30", "20-30")])
def test_openjd_refuses_a_bad_frame_spec_in_its_plan_step(shot, tmp_path, frames, words):
    out = tmp_path / "farm"
    r = openjd(shot, out, "--run-dependencies", params={"Frames": frames})
    assert r.returncode != 0
    assert words in r.stdout and "Step 'Plan'" in r.stdout, r.stdout
    assert "Running Task" not in r.stdout.split("Step 'Plan'")[-1]
    assert not out.exists()


def _dacon_task(out: Path) -> int | None:
    """pid of the running `dacon farm run` writing ``out``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in argv and f"--out={out}".encode() in argv:
            return int(cmdline.parent.name)
    return None


@needs_openjd
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_openjd_task_reruns_to_the_same_frames(tmp_path, capsys):
    long = make_shot(tmp_path / "long", n=40)
    out = tmp_path / "farm"
    cmd = [str(OPENJD), "run", str(TEMPLATE), "--step", "Colorize", "--task-param", "Task=1",
           "--job-param", json.dumps({
               "Dacon": str(DACON), "Targets": str(long["root"] / "line"), "Output": str(out),
               "References": str(long["ref"]), "ReferenceLines": str(long["ref_line"]),
               "ChunkSize": 40, "Tasks": 1, "ColorizeOptions": "--batch-size 1 --device cpu"})]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert _wait(lambda: len(list(out.glob("*.png"))) >= 3)
        pid = _dacon_task(out)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the worker host loses the task mid-frame
        log, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode != 0, log
    done = len(list(out.glob("*.png")))
    assert 3 <= done < 40
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert temp_files(out) == []
    whole = tmp_path / "whole"
    assert main(["colorize", str(long["root"] / "line"), "--ref", str(long["ref"]),
                 "--ref-line", str(long["ref_line"]), "--out", str(whole), "--quiet",
                 "--batch-size", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    same_frames(out, whole, 40)
