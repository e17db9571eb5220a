"""The Flamenco job type (scripts/flamenco/dacon_colorize.js), run under Node.

The compiled tasks are checked as data, then executed the way the Manager would (a task
once the tasks it waits for are done) with the real CLI: the frames equal one
uninterrupted run, whatever the frame spec or the mode.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from tests.support.clips import make_shot

JOB_TYPE = Path(__file__).resolve().parents[2] / "scripts" / "flamenco" / "dacon_colorize.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

HARNESS = r"""
const m = require(process.argv[1]);
const settings = JSON.parse(process.argv[2]);
global.author = {
  Task: (name, type) => ({name, type, commands: [], deps: [],
    addCommand(c) { this.commands.push(c); },
    addDependency(t) { this.deps.push(t.name); }}),
  Command: (name, params) => ({name, params}),
};
const job = {settings, tasks: [], addTask(t) { this.tasks.push(t); }};
try {
  m.compileJob(job);
  console.log(JSON.stringify({tasks: job.tasks.map(t => ({name: t.name, type: t.type,
    deps: t.deps, commands: t.commands}))}));
} catch (e) { console.log(JSON.stringify({error: String(e)})); }
"""


def compile_job(**settings) -> dict:
    base = {"dacon": "dacon", "targets": "/shot/line", "references": "", "reference_lines": "",
            "output": "/shot/color", "frames": "", "chunk_size": 24, "tasks": 4,
            "mode": "keyframe", "formats": "png", "gap_radius": 0, "model": "default",
            "device": "auto"}
    base.update(settings)
    r = subprocess.run([NODE, "-e", HARNESS, str(JOB_TYPE), json.dumps(base)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_job_type_declares_its_settings():
    r = subprocess.run([NODE, "-e", "const m = require(process.argv[1]);"
                        "console.log(JSON.stringify(m.JOB_TYPE))", str(JOB_TYPE)],
                       capture_output=True, text=True, timeout=60)
    job_type = json.loads(r.stdout)
    keys = {s["key"] for s in job_type["settings"]}
    assert {"targets", "output", "frames", "chunk_size", "tasks", "mode", "references"} <= keys


def test_a_plan_task_then_farm_tasks_that_wait_for_it():
    plan = compile_job(frames="101-148", chunk_size=20, tasks=3,
                       references="/k/a.png;/k/b.png", reference_lines="/k/a_line.png")
    tasks = plan["tasks"]
    assert [(t["name"], t["deps"]) for t in tasks] == [
        ("plan", []), ("colorize-1", ["plan"]), ("colorize-2", ["plan"]),
        ("colorize-3", ["plan"])]
    assert all(t["type"] == "dacon" for t in tasks)
    first = tasks[0]["commands"][0]
    assert first["name"] == "exec" and first["params"]["exe"] == "dacon"
    assert first["params"]["args"][:3] == ["farm", "plan", "/shot/line"]
    args = tasks[2]["commands"][0]["params"]["args"]
    assert args[:3] == ["farm", "run", "/shot/line"] and args[-1] == "--task=2"
    for want in ("--frames=101-148", "--chunk-size=20", "--tasks=3", "--refs=/k/a.png;/k/b.png",
                 "--ref-lines=/k/a_line.png", "--out=/shot/color"):
        assert want in args


@pytest.mark.parametrize("settings, error", [
    ({"frames": "12-3"}, "ends before it starts"),
    ({"frames": "1-x"}, "expected frame numbers"),
    ({"frames": "1-10,5-16"}, "ranges 1-10 and 5-16 overlap (frames 5-10 twice)"),
    ({"chunk_size": 0}, "chunk_size 0"), ({"tasks": 0}, "tasks 0")])
def test_bad_settings_are_refused_at_submission(settings, error):
    assert error in compile_job(**settings)["error"]


def run_tasks(plan: dict) -> list[tuple[str, int]]:
    """What the Manager does: run each task once the tasks it waits for are done."""
    done: set[str] = set()
    codes = []
    tasks = {t["name"]: t for t in plan["tasks"]}
    while len(done) < len(tasks):
        ready = [n for n, t in tasks.items() if n not in done and set(t["deps"]) <= done]
        assert ready, "dependency cycle"
        for name in reversed(ready):  # siblings in any order
            code = main(tasks[name]["commands"][0]["params"]["args"])
            codes.append((name, code))
            if code:
                return codes
            done.add(name)
    return codes


@pytest.mark.parametrize("mode,anchor,frames", [("consecutive", 1, "1-24"),
                                                ("nearest", 16, ""), ("keyframe", 5, "1-16")])
def test_running_the_tasks_equals_one_run(tmp_path, capsys, mode, anchor, frames):
    shot = make_shot(tmp_path / "shot", n=16, first=1, ref_frame=anchor)
    plan = compile_job(targets=str(shot["root"] / "line"), output=str(tmp_path / "farm"),
                       frames=frames, chunk_size=3, tasks=3, mode=mode, model="baseline",
                       references=str(shot["ref"]), reference_lines=str(shot["ref_line"]))
    assert all(code == 0 for _, code in run_tasks(plan))
    whole = tmp_path / "whole"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(whole), "--mode", mode,
                 "--model", "baseline", "--quiet"]) == 0
    capsys.readouterr()
    for k in range(1, 17):
        name = f"{k:04d}.png"
        assert np.array_equal(read_image(tmp_path / "farm" / name), read_image(whole / name)), name


def test_a_range_without_frames_fails_the_plan_task_before_any_frame(tmp_path, capsys):
    shot = make_shot(tmp_path / "shot", n=4)
    plan = compile_job(targets=str(shot["root"] / "line"), output=str(tmp_path / "farm"),
                       frames="20-30", references=str(shot["ref"]), model="baseline")
    assert run_tasks(plan) == [("plan", 2)]
    assert "20-30" in capsys.readouterr().err and not (tmp_path / "farm").exists()
