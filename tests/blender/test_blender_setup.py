"""Engine set-up in a background process, polled like the UI timer does (real bpy, real venv)."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import bpy
import pytest

from dacon_blender_addon import engine, engine_setup


def _poll_until_done(job: engine_setup.SetupJob, timeout: float = 240) -> list[str]:
    seen: list[str] = []
    end = time.monotonic() + timeout
    while not job.done:
        seen += job.poll()
        assert time.monotonic() < end, job.lines[-20:]
        time.sleep(0.05)
    return seen


def test_setup_builds_engine_venv_from_bundled_wheel(extension_zip: Path, tmp_path: Path) -> None:
    addon_dir = tmp_path / "ext"
    with zipfile.ZipFile(extension_zip) as zf:
        zf.extractall(addon_dir)
    wheel = engine_setup.bundled_engine_wheel(addon_dir)
    assert wheel is not None
    venv = tmp_path / "engine venv"  # a space, as in many user folders
    # Offline and without dependencies here; in Blender pip also fetches torch and the rest.
    job = engine_setup.start_setup(venv, online=True, base_python=sys.executable,
                                   packages=[str(wheel)], pip_args="--no-deps --no-index")
    assert job.progress == (0, 2) and not job.done
    seen = _poll_until_done(job)
    assert job.state == "done", job.lines[-20:]
    assert job.progress == (2, 2)
    assert any("Successfully installed dacon-engine" in line for line in seen)
    py = engine_setup.venv_python(venv)
    out = subprocess.run([str(py), "-c", "import dacon_engine.client as c; print(c.__file__)"],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.strip().startswith(str(venv))


def test_setup_failure_is_reported_in_one_line(tmp_path: Path) -> None:
    steps = engine_setup.setup_commands(sys.executable, tmp_path / "v",
                                        [str(tmp_path / "missing-0.1-py3-none-any.whl")],
                                        pip_args="--no-deps --no-index")
    steps[0] = [sys.executable, "-c", "print('venv skipped')"]  # keep the test fast
    job = engine_setup.SetupJob([steps[0], [sys.executable, *steps[1][1:]]])
    _poll_until_done(job)
    assert job.state == "failed"
    assert job.error.startswith("step 2 of 2 exited with 1:")
    assert "missing-0.1-py3-none-any.whl" in job.error
    assert "\n" not in job.error


def test_setup_failure_shows_the_cause_line_and_the_full_log(tmp_path: Path) -> None:
    """pip's reason comes early and a long tail follows: the label shows the reason, whole."""
    cause = ("ERROR: Could not find a version that satisfies the requirement torch>=2.1 "
             "(from dacon-engine) (from versions: none)")
    noise = "; ".join(f"print('  noise line {i} ' + 'x' * 40)" for i in range(30))
    script = f"print('Collecting torch>=2.1'); print({cause!r}); {noise}; raise SystemExit(1)"
    log = tmp_path / "logs" / "engine-venv-setup.log"
    job = engine_setup.SetupJob([[sys.executable, "-c", "print('venv made')"],
                                 [sys.executable, "-c", script]], log_path=log)
    _poll_until_done(job)
    assert job.state == "failed"
    assert job.cause == cause
    assert job.error == f"step 2 of 2 exited with 1: {cause}"
    lines = engine_setup.failure_lines(job, width=60)
    assert lines[0] == "Set-up failed (step 2 of 2)"
    assert " ".join(lines[1:-1]) == cause and all(len(x) <= 60 for x in lines[1:-1])
    assert lines[-1] == f"Full log: {log}"
    text = log.read_text(encoding="utf-8")
    assert "venv made" in text and cause in text and "noise line 29" in text
    assert text.rstrip().endswith(f"set-up failed: {job.error}")
    assert engine_setup.setup_log_path(tmp_path / "engine-venv") == \
        tmp_path / "engine-venv-setup.log"


def test_setup_refuses_offline_and_missing_python(tmp_path: Path) -> None:
    with pytest.raises(PermissionError, match="online access"):
        engine_setup.start_setup(tmp_path / "v", online=bool(bpy.app.online_access),
                                 packages=["x"])
    job = engine_setup.start_setup(tmp_path / "v", online=True,
                                   base_python=str(tmp_path / "no-python"), packages=["x"])
    assert job.state == "failed" and "cannot run" in job.error


def test_setup_cancel_stops_the_process(tmp_path: Path) -> None:
    job = engine_setup.SetupJob([[sys.executable, "-c", "import time; print('go', flush=True); "
                                  "time.sleep(60)"]])
    deadline = time.monotonic() + 30
    while "go" not in job.lines and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.05)
    proc = job._proc
    assert proc is not None
    job.cancel()
    assert job.state == "failed" and job.error == "cancelled"
    assert proc.poll() is not None


def test_doctor_report_without_interpreter_is_plain_words(addon: Any) -> None:
    report = engine.DoctorCheck("").wait(timeout=5)
    assert report == {"ok": False, "python": "", "error": "no engine interpreter is set"}
    assert engine.format_report(report)  # non-empty, one report for the UI
