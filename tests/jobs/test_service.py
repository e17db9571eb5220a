"""The engine service as a real subprocess, driven by the stdlib client (default model, CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dacon_engine.client import EngineClient, EngineDied, EngineError, EngineStartError
from dacon_engine.fileio.images import read_image
from tests.support.clips import make_shot, temp_files

PY = sys.executable
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def engine():
    client = EngineClient(PY, env=ENV)
    client.start(timeout=120)
    yield client
    client.shutdown()


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    return make_shot(tmp_path / "shot", n=4)


def refs(shot: dict) -> list[dict]:
    return [{"color": str(shot["ref"]), "line": str(shot["ref_line"])}]


def test_client_import_pulls_in_neither_torch_nor_numpy():
    code = ("import sys, dacon_engine.client, dacon_engine.protocol; "
            "bad = [m for m in ('torch', 'numpy') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hello_reports_versions_devices_and_models(engine):
    info = engine.info
    assert info["protocol"] == 1
    assert info["torch"] and info["engine_version"]
    assert info["devices"][0]["name"] == "cpu"
    names = {m["name"]: m["available"] for m in info["models"]}
    assert names["default"] is True and names["baseline"] is True
    assert "dacon-v1.1" in names


def test_full_job_ordered_events_and_outputs_match_cli(engine, shot, tmp_path):
    out = tmp_path / "out"
    job = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                          out=str(out), formats=["png", "exr"], batch_size=2)
    result = job.wait(120)
    events = [e for e in job.poll()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "accepted" and kinds[-1] == "job_done"
    progress = [(e["done"], e["total"]) for e in events if e["type"] == "progress"]
    assert progress == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    frames = [e for e in events if e["type"] == "frame_done"]
    assert [e["frame"] for e in frames] == ["0001", "0002", "0003", "0004"]
    for e in frames:
        assert sorted(Path(f).suffix for f in e["files"]) == [".exr", ".json", ".png"]
        assert all(Path(f).is_file() for f in e["files"])
    assert job.state == "done" and result["frames_done"] == 4
    assert set(result["timings"]) >= {"references", "segment", "features", "match", "write"}
    want = "cuda" if torch.cuda.is_available() else "cpu"  # the job's device is "auto"
    assert result["device"] == want and result["peak_rss_mb"] > 0
    # the same job through the CLI in this process gives the same pixels
    from dacon_engine.jobs.cli import main

    cli_out = tmp_path / "cli"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(cli_out), "--quiet"]) == 0
    for k in range(1, 5):
        assert np.array_equal(read_image(out / f"{k:04d}.png"), read_image(cli_out / f"{k:04d}.png"))


def test_two_jobs_queue_and_run_in_order(engine, shot, tmp_path):
    a = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                        out=str(tmp_path / "a"))
    b = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                        out=str(tmp_path / "b"), model="baseline")
    a.wait(120)
    b.wait(120)
    ea, eb = a.poll(), b.poll()
    a_done = next(e["seq"] for e in ea if e["type"] == "job_done")
    b_accepted = next(e["seq"] for e in eb if e["type"] == "accepted")
    b_started = next(e["seq"] for e in eb if e["type"] == "progress")
    assert b_accepted < a_done < b_started  # queued while a ran, started after it
    assert len(list((tmp_path / "b").glob("*.png"))) == 4


def test_cancel_mid_job_keeps_finished_frames_and_next_job_runs(engine, tmp_path):
    shot = make_shot(tmp_path / "long", n=24)
    out = tmp_path / "out"
    job = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                          out=str(out), batch_size=1)
    deadline = time.monotonic() + 120
    while not job.frames and time.monotonic() < deadline:
        time.sleep(0.01)
    job.cancel()
    result = job.wait(120)
    assert job.state == "cancelled" and result["cancelled"] is True
    done = result["frames_done"]
    assert 1 <= done < 24
    stems = sorted(p.stem for p in out.glob("*.png"))
    assert stems == sorted(p.stem for p in out.glob("*.json")) and len(stems) == done
    for s in stems:
        read_image(out / f"{s}.png")  # complete, readable
    assert temp_files(out) == []
    # the model stays loaded and the next job runs
    nxt = engine.colorize(targets=[str(shot["lines"][0])], references=refs(shot),
                          out=str(tmp_path / "next"))
    assert nxt.wait(120)["frames_done"] == 1


def test_cancel_a_queued_job(engine, shot, tmp_path):
    a = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                        out=str(tmp_path / "a"))
    b = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                        out=str(tmp_path / "b"))
    b.cancel()
    a.wait(120)
    b.wait(120)
    assert a.state == "done" and b.state == "cancelled"
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").glob("*.png"))


def test_bad_input_is_an_error_event_and_the_engine_keeps_serving(engine, shot, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    job = engine.colorize(targets=[str(broken)], references=refs(shot), out=str(tmp_path / "o"))
    with pytest.raises(EngineError) as e:
        job.wait(60)
    assert e.value.file == str(broken) and "cannot read image" in e.value.message
    assert "\n" not in e.value.message and e.value.traceback
    bad_model = engine.load_model("no-such-model")
    with pytest.raises(EngineError, match="unknown model"):
        bad_model.wait(60)
    bad_option = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                                 out=str(tmp_path / "o2"), gap_radius=-1)
    with pytest.raises(EngineError, match="--gap-radius -1"):
        bad_option.wait(60)
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").iterdir())
    assert engine.hello().wait(30)["protocol"] == 1


def test_malformed_unknown_and_half_written_lines(engine, shot, tmp_path):
    before = len(engine.unrouted)
    engine.send_raw(b"this is not json\n")
    engine.send_raw(b'{"type": "paint_everything"}\n')
    engine.send_raw(b'{"type": "hello", "id": 7}\n')
    engine.send_raw(b"[1, 2]\n")
    engine.send_raw(b'{"type": "colorize", "id": "x1", "targets": "not-a-list", "out": "o"}\n')
    assert engine.hello().wait(30)["protocol"] == 1  # still serving, in order
    errors = [e for e in list(engine.unrouted)[before:] if e["type"] == "error"]
    assert len(errors) == 5
    assert "not JSON" in errors[0]["message"]
    assert "unknown request type 'paint_everything'" in errors[1]["message"]
    assert "'id' must be a string" in errors[2]["message"]
    assert "expected a JSON object" in errors[3]["message"]
    assert errors[4]["id"] == "x1" and "'targets' must be a list" in errors[4]["message"]
    # an unknown field is reported, and the job still runs
    job = engine.request("colorize", targets=[str(shot["lines"][0])], references=refs(shot),
                         out=str(tmp_path / "u"), colour_space="aces")
    job.wait(120)
    warnings = [e["message"] for e in job.logs if e.get("level") == "warning"]
    assert any("colour_space" in w for w in warnings)


def test_half_written_line_then_eof_ends_the_engine(tmp_path):
    client = EngineClient(PY, env=ENV)
    client.start(60)
    client.send_raw(b'{"type": "hel')
    client._close_stdin()
    client._proc.wait(10)
    assert client._proc.returncode == 0
    assert any("incomplete request line" in (e.get("message") or "") for e in client.unrouted)


def test_stdin_closed_ends_the_engine_within_two_seconds(tmp_path):
    shot = make_shot(tmp_path / "long", n=30)
    client = EngineClient(PY, env=ENV)
    client.start(60)
    out = tmp_path / "out"
    job = client.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                          out=str(out), batch_size=1)
    deadline = time.monotonic() + 120
    while not job.frames and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    client._close_stdin()  # what happens when Blender dies
    client._proc.wait(10)
    # the engine leaves 1 s after stdin closes at the latest (measured ~0.1-0.3 s idle);
    # the bound is loose so a loaded CI machine cannot make it flaky
    assert time.monotonic() - t0 < 5.0
    assert temp_files(out) == []
    for p in out.glob("*.png"):
        read_image(p)


def test_engine_killed_mid_job_raises_clearly_and_a_new_engine_starts(tmp_path):
    shot = make_shot(tmp_path / "long", n=30)
    client = EngineClient(PY, env=ENV)
    client.start(60)
    job = client.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                          out=str(tmp_path / "out"), batch_size=1)
    deadline = time.monotonic() + 120
    while not job.frames and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(client.pid, signal.SIGKILL)
    with pytest.raises(EngineDied, match="stopped unexpectedly"):
        job.wait(30)
    assert not client.alive
    with pytest.raises(EngineDied):
        client.hello().wait(5)
    client.restart(60)
    again = client.colorize(targets=[str(shot["lines"][0])], references=refs(shot),
                            out=str(tmp_path / "again"))
    assert again.wait(120)["frames_done"] == 1
    client.shutdown()
    assert not client.alive


def test_start_errors_are_plain_words(tmp_path):
    with pytest.raises(EngineStartError, match="no such interpreter"):
        EngineClient(str(tmp_path / "nope" / "python")).start(10)
    base = Path(sys.base_prefix) / "bin" / "python3"
    if base.exists() and Path(sys.base_prefix) != Path(sys.prefix):
        with pytest.raises(EngineStartError, match="engine is not installed"):
            EngineClient(str(base), cwd=tmp_path, env={"PYTHONPATH": ""}).start(30)


def test_protocol_mismatch_is_a_clear_start_error(tmp_path):
    fake = tmp_path / "fake" / "dacon_engine"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "jobs").mkdir()
    (fake / "jobs" / "__init__.py").write_text("")
    (fake / "jobs" / "service.py").write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    m = json.loads(line)\n"
        "    if m.get('type') == 'hello':\n"
        "        print(json.dumps({'type': 'job_done', 'id': m['id'], 'status': 'done',\n"
        "                          'result': {'protocol': 99, 'engine_version': '9.9'}}),\n"
        "              flush=True)\n")
    client = EngineClient(PY, env={"PYTHONPATH": str(tmp_path / "fake")}, cwd=tmp_path)
    with pytest.raises(EngineStartError, match="speaks protocol 99"):
        client.start(30)
    assert not client.alive


def test_doctor_reports_an_engine_and_a_missing_one(tmp_path, capsys):
    from dacon_engine.client import doctor, format_doctor
    from dacon_engine.jobs.cli import main

    assert main(["doctor", "--python", PY]) == 0
    out = capsys.readouterr().out
    assert "models ready: baseline, default" in out and "device cpu" in out
    report = doctor(str(tmp_path / "missing-python"), timeout=10)
    assert report["ok"] is False and "no such interpreter" in report["error"]
    assert format_doctor(report).startswith("engine check failed")


def test_review_through_the_service(engine, shot, tmp_path):
    out = tmp_path / "out"
    engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                    out=str(out)).wait(120)
    result = engine.review(out, threshold=1.0).wait(60)
    assert [f["frame"] for f in result["frames"]] == ["0001", "0002", "0003", "0004"]
    assert result["worst"] in {"0001", "0002", "0003", "0004"}
    assert all(Path(f["review"]).is_file() for f in result["frames"])
    with pytest.raises(EngineError, match="--threshold 3"):
        engine.review(out, threshold=3).wait(60)


def test_palette_warnings_strict_refusal_and_recolor_through_the_service(engine, shot, tmp_path):
    pal = tmp_path / "day.gpl"  # no entry for the mouth (#c8283c): off-palette
    pal.write_text("GIMP Palette\n250 222 198 skin\n30 160 60 hat\n40 90 205 eye\n")
    out = tmp_path / "out"
    job = engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                          out=str(out), palette=str(pal), model="baseline")
    assert job.wait(120)["frames_done"] == 4
    warnings = [e["message"] for e in job.poll() if e["type"] == "log" and e["level"] == "warning"]
    assert any("color #c8283c (" in m and "nearest palette entry" in m for m in warnings)
    with pytest.raises(EngineError, match="--strict-palette"):
        engine.colorize(targets=[str(shot["root"] / "line")], references=refs(shot),
                        out=str(tmp_path / "strict"), palette=str(pal), strict_palette=True,
                        model="baseline").wait(120)
    assert not (tmp_path / "strict").exists()
    night = tmp_path / "night.json"
    night.write_text('{"skin": "#203040", "hat": "#102010", "eye": "#000040"}')
    result = engine.recolor(out, night).wait(60)
    assert result["frames"] == 4 and result["palette"] == str(night)
    assert (read_image(out / "0001.png")[..., :3] == (0x20, 0x30, 0x40)).all(-1).any()
