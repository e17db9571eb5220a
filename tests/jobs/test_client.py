"""The engine client against a stand-in engine (tests/support/fake_engine.py): start failures, deaths,
long and split event lines. No torch, no model: these run in a second each."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from dacon_engine.client import EngineClient, EngineDied, EngineStartError, exit_text

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_engine.py"


def fake_python(tmp_path: Path, **env: str) -> str:
    """An "interpreter" that runs the fake engine with these FAKE_* settings."""
    script = tmp_path / "fake-python"
    exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    script.write_text(f"#!/bin/sh\n{exports}exec '{sys.executable}' '{FAKE}' \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def frames(tmp_path: Path, n: int) -> list[str]:
    paths = []
    for k in range(1, n + 1):
        p = tmp_path / "line" / f"line_{k:04d}.png"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"png %d" % k)
        paths.append(str(p))
    return paths


def test_interpreter_that_exits_at_once_is_named_with_what_it_printed(tmp_path):
    if not os.access("/usr/bin/true", os.X_OK):
        pytest.skip("no /usr/bin/true")
    for _ in range(5):  # the reader threads race the exit: every run must say the same
        with pytest.raises(EngineStartError) as info:
            EngineClient("/usr/bin/true").start(10)
        assert info.value.message == (
            "/usr/bin/true: the engine exited at once (exit code 0) and printed nothing: is "
            "it the Python of an environment with dacon_engine installed?")
    py = fake_python(tmp_path, FAKE_STDERR="fatal: this venv is broken", FAKE_EXIT="3")
    with pytest.raises(EngineStartError) as info:
        EngineClient(py).start(10)
    assert info.value.message == (f"{py}: the engine exited at once (exit code 3): fatal: "
                                  "this venv is broken")
    assert "this venv is broken" in info.value.traceback


def test_engine_killed_mid_job_names_the_signal_and_keeps_finished_frames(tmp_path):
    client = EngineClient(fake_python(tmp_path, FAKE_HOLD_AFTER="1"))
    client.start(10)
    job = client.colorize(targets=frames(tmp_path, 3), out=str(tmp_path / "out"))
    while not job.frames and not job.done:
        job._finished.wait(0.01)
    os.kill(client.pid, signal.SIGKILL)
    with pytest.raises(EngineDied) as info:
        job.wait(10)
    assert info.value.message == "the engine stopped unexpectedly (killed by SIGKILL)"
    assert [f["frame"] for f in job.frames] == ["line_0001"]
    assert not client.alive
    assert exit_text(-15) == "killed by SIGTERM" and exit_text(None) == "exit code unknown"


def test_cancel_reaches_the_engine_while_it_works(tmp_path):
    client = EngineClient(fake_python(tmp_path, FAKE_HOLD_AFTER="1"))
    client.start(10)
    try:
        job = client.colorize(targets=frames(tmp_path, 4), out=str(tmp_path / "out"))
        while not job.frames:
            job._finished.wait(0.01)
        job.cancel()
        result = job.wait(10)
        assert job.state == "cancelled" and result["frames_done"] == 1
        assert job.progress == (1, 4)
    finally:
        client.shutdown()


def _read_syscalls() -> int:
    with open("/proc/self/io", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("syscr")).split()[1])


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_a_long_event_line_is_read_in_few_system_calls(tmp_path):
    """Unbuffered, readline() reads one byte per call: 4 MB were 4 million read(2) calls."""
    size = 4_000_000
    client = EngineClient(fake_python(tmp_path, FAKE_PAD=str(size)))
    before = _read_syscalls()
    info = client.start(30)
    calls = _read_syscalls() - before
    client.shutdown()
    assert len(info["pad"]) == size
    assert calls < size // 100, f"{calls} read calls for a {size}-byte line"


def test_an_event_split_across_writes_arrives_whole(tmp_path):
    client = EngineClient(fake_python(tmp_path, FAKE_SPLIT="1"))
    client.start(10)
    try:
        job = client.hello()
        seen = threading.Event()
        while "half written" not in client.stderr_tail:
            seen.wait(0.01)
        assert not job.done  # half a line is not an event
        client.send_raw(b"\n")  # the fake engine writes the rest
        assert job.wait(10)["protocol"] == 1
        assert not [ev for ev in client.unrouted if ev.get("type") in ("log", "error")]
    finally:
        client.shutdown()
