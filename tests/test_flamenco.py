"""The Flamenco job type (scripts/flamenco/dacon_colorize.js), run under Node.

The chunk plan is checked as data, and then executed: running the compiled tasks in
dependency order with the real CLI gives the same frames as one uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clips import make_shot
from dacon_engine.cli import main
from dacon_engine.imageio import read_image

JOB_TYPE = Path(__file__).resolve().parents[1] / "scripts" / "flamenco" / "dacon_colorize.js"
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
    defaults = {m: None for m in ()}
    base = {"dacon": "dacon", "targets": "/shot/line", "references": "", "reference_lines": "",
            "output": "/shot/color", "chunk_size": 24, "mode": "keyframe", "anchor_frames": "",
            "chain_chunks": True, "formats": "png", "gap_radius": 0, "model": "default",
            "device": "auto", **defaults}
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
    assert {"targets", "output", "frames", "chunk_size", "mode", "references"} <= keys


def test_keyframe_chunks_are_independent_resumable_tasks():
    plan = compile_job(frames="101-148", chunk_size=20, references="/k/a.png;/k/b.png",
                       reference_lines="/k/a_line.png")
    tasks = plan["tasks"]
    assert [t["name"] for t in tasks] == ["colorize-101-120", "colorize-121-140",
                                          "colorize-141-148"]
    assert all(t["deps"] == [] and t["type"] == "dacon" for t in tasks)
    cmd = tasks[1]["commands"][0]
    assert cmd["name"] == "exec" and cmd["params"]["exe"] == "dacon"
    args = cmd["params"]["args"]
    assert args[:2] == ["colorize", "/shot/line"]
    assert args[args.index("--frames") + 1] == "121-140" and "--resume" in args
    assert [args[i + 1] for i, a in enumerate(args) if a == "--ref"] == ["/k/a.png", "/k/b.png"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--ref-line"] == ["/k/a_line.png"]


def test_ranges_lists_and_chained_modes():
    plan = compile_job(frames="1-5,20-22", chunk_size=3, mode="consecutive")
    names = [t["name"] for t in plan["tasks"]]
    assert names == ["colorize-1-3", "colorize-4-5", "colorize-20-22"]
    assert [t["deps"] for t in plan["tasks"]] == [[], ["colorize-1-3"], ["colorize-4-5"]]
    free = compile_job(frames="1-6", chunk_size=3, mode="consecutive", chain_chunks=False)
    assert [t["deps"] for t in free["tasks"]] == [[], []]
    # nearest: chunks wait for the neighbour towards their nearest anchor frame
    near = compile_job(frames="1-12", chunk_size=3, mode="nearest", anchor_frames="5,12")
    deps = {t["name"]: t["deps"] for t in near["tasks"]}
    assert deps == {"colorize-1-3": ["colorize-4-6"], "colorize-4-6": [],
                    "colorize-7-9": ["colorize-4-6", "colorize-10-12"],
                    "colorize-10-12": []}


@pytest.mark.parametrize("frames,chunk,error", [("12-3", 3, "ends before it starts"),
                                                ("1-x", 3, "expected frame numbers"),
                                                ("1-9", 0, "chunk_size 0")])
def test_bad_settings_are_refused(frames, chunk, error):
    assert error in compile_job(frames=frames, chunk_size=chunk)["error"]


@pytest.mark.parametrize("mode,anchor", [("consecutive", 0), ("nearest", 5)])
def test_running_the_plan_equals_one_run(tmp_path, capsys, mode, anchor):
    shot = make_shot(tmp_path / "shot", n=9, first=1, ref_frame=anchor)
    refs = {"references": str(shot["ref"]), "reference_lines": str(shot["ref_line"])}
    plan = compile_job(targets=str(shot["root"] / "line"), output=str(tmp_path / "farm"),
                       frames="1-9", chunk_size=3, mode=mode, anchor_frames=str(anchor), **refs)
    done: set[str] = set()
    tasks = {t["name"]: t for t in plan["tasks"]}
    while len(done) < len(tasks):  # what the Manager does: run tasks whose deps are done
        ready = [n for n, t in tasks.items() if n not in done and set(t["deps"]) <= done]
        assert ready, "dependency cycle"
        for name in ready:
            assert main(tasks[name]["commands"][0]["params"]["args"]) == 0
            done.add(name)
    whole = tmp_path / "whole"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(whole), "--mode", mode,
                 "--quiet"]) == 0
    capsys.readouterr()
    for k in range(1, 10):
        name = f"{k:04d}.png"
        assert np.array_equal(read_image(tmp_path / "farm" / name), read_image(whole / name)), name
