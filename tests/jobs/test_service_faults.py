"""Issue 24's service faults, against `python -m dacon_engine.jobs.service` spoken to directly:
lines that would wedge it, duplicate ids, huge fields, queued cancels, SIGTERM / SIGINT,
and worker processes that must die with it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.clips import make_shot, temp_files
from tests.support.processes import alive as _alive, children as _children, wait as _wait

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Service:
    """The engine service as a child process; events read on a thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([PY, "-m", "dacon_engine.jobs.service"], env=ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def send(self, line: bytes | dict) -> None:
        assert self.proc.stdin is not None
        data = line if isinstance(line, bytes) else json.dumps(line).encode() + b"\n"
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def until(self, pred, timeout: float = 120) -> dict:
        """Events up to (and returning) the first for which ``pred`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            assert ev is not None, f"the service ended; events: {self.seen}"
            self.seen.append(ev)
            if pred(ev):
                return ev

    def rest(self, timeout: float = 60) -> list[dict]:
        """Every event until stdout closes."""
        out = []
        deadline = time.monotonic() + timeout
        while (ev := self.events.get(timeout=max(0.01, deadline - time.monotonic()))) is not None:
            out.append(ev)
        self.seen += out
        return out

    def hello(self, rid: str = "h") -> dict:
        self.send({"type": "hello", "id": rid})
        return self.until(lambda e: e["id"] == rid and e["type"] == "job_done")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def service():
    s = Service()
    yield s
    s.close()


def colorize(shot: dict, out: Path, rid: str, **kw) -> dict:
    return {"type": "colorize", "id": rid, "targets": [str(shot["root"] / "line")],
            "references": [{"color": str(shot["ref"]), "line": str(shot["ref_line"])}],
            "out": str(out), "batch_size": 1, "device": "cpu", **kw}


def terminal(events: list[dict], rid: str) -> list[dict]:
    return [e for e in events if e["id"] == rid and e["type"] in ("job_done", "error")]


def test_a_deeply_nested_line_is_an_error_and_the_service_keeps_serving(service):
    service.send(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    service.send(b'{"type": "hello", "id": "n", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n")
    errors = [service.until(lambda e: e["type"] == "error") for _ in range(2)]
    assert all("nested too deeply" in e["message"] for e in errors), errors
    assert service.hello()["result"]["protocol"] == 1
    service.proc.stdin.close()  # closing stdin still ends it
    assert service.proc.wait(30) == 0


def test_a_huge_wrong_field_is_not_echoed_back(service):
    service.send({"type": "colorize", "id": "big", "targets": "x" * 10_000_000, "out": "o"})
    err = service.until(lambda e: e["type"] == "error")
    assert err["id"] == "big" and "'targets' must be a list" in err["message"]
    assert len(err["message"]) < 300


def test_a_duplicate_id_is_refused_without_a_second_terminal_event(service, tmp_path):
    shot = make_shot(tmp_path / "shot", n=20)
    service.send(colorize(shot, tmp_path / "a", "dup", model="baseline"))
    service.until(lambda e: e["id"] == "dup" and e["type"] == "accepted")
    service.send(colorize(shot, tmp_path / "b", "dup", model="baseline"))
    service.send({"type": "colorize", "id": "dup", "targets": 5, "out": "o"})
    refusals = [service.until(lambda e: e["type"] == "error") for _ in range(2)]
    assert all(e["id"] is None for e in refusals), refusals
    assert "already queued or running" in refusals[0]["message"]
    assert refusals[0]["duplicate_id"] == "dup"
    assert "belongs to a queued or running job" in refusals[1]["message"]
    service.until(lambda e: e["id"] == "dup" and e["type"] == "job_done", 300)
    service.hello()
    assert len(terminal(service.seen, "dup")) == 1


def test_cancelling_a_queued_job_ends_it_before_the_running_one(service, tmp_path):
    shot = make_shot(tmp_path / "shot", n=40)
    service.send(colorize(shot, tmp_path / "a", "a"))
    service.send(colorize(shot, tmp_path / "b", "b"))
    service.until(lambda e: e["id"] == "a" and e["type"] == "frame_done", 300)
    service.send({"type": "cancel", "id": "c", "job": "b"})
    ended = service.until(lambda e: e["type"] == "job_done")
    assert ended["id"] == "b" and ended["status"] == "cancelled"
    service.send({"type": "cancel", "id": "c2", "job": "a"})
    a = service.until(lambda e: e["id"] == "a" and e["type"] == "job_done", 300)
    assert a["status"] == "cancelled" and a["result"]["frames_done"] < 40
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_running_job_with_one_terminal_event(service, tmp_path, sig):
    shot = make_shot(tmp_path / "shot", n=40)
    out = tmp_path / "out"
    service.send(colorize(shot, out, "run"))
    service.send(colorize(shot, tmp_path / "queued", "queued"))
    service.until(lambda e: e["id"] == "run" and e["type"] == "frame_done", 300)
    service.proc.send_signal(sig)
    events = service.rest()
    assert service.proc.wait(30) == 128 + sig
    err = service.proc.stderr.read().decode()
    assert "Fatal Python error" not in err and f"stopped by {signal.Signals(sig).name}" in err
    for rid in ("run", "queued"):
        ends = terminal(service.seen, rid)
        assert len(ends) == 1 and ends[0]["status"] == "cancelled", (rid, events)
    done = len(list(out.glob("*.png")))
    assert 1 <= done < 40 and temp_files(out) == []
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(p.stem for p in out.glob("*.json"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["kill", "stdin"])
def test_worker_processes_die_with_the_service(service, tmp_path, how):
    shot = make_shot(tmp_path / "shot", n=60)
    out = tmp_path / "out"
    service.send(colorize(shot, out, "w", workers=2, model="default"))
    service.until(lambda e: e["id"] == "w" and e["type"] == "frame_done", 300)
    workers = [c for c in _children(service.proc.pid) if _alive(c)]
    try:
        assert len(workers) >= 2
        if how == "kill":
            service.proc.kill()
        else:
            service.proc.stdin.close()
        service.proc.wait(30)
        assert _wait(lambda: not any(_alive(w) for w in workers), 10)
        written = sorted(out.glob("*.png"))
        time.sleep(1.0)  # nothing writes after they died
        assert sorted(out.glob("*.png")) == written
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_a_job_writing_into_its_line_art_folder_is_refused(service, tmp_path):
    shot = make_shot(tmp_path / "shot", n=3)
    line = shot["root"] / "line"
    before = {p.name: p.read_bytes() for p in line.iterdir()}
    service.send(colorize(shot, line, "same", resume=True, model="baseline"))
    err = service.until(lambda e: e["id"] == "same" and e["type"] in ("error", "job_done"))
    assert err["type"] == "error" and "line art" in err["message"], err
    assert str(line) in err["message"] and "0001.png" in err["message"]
    assert {p.name: p.read_bytes() for p in line.iterdir()} == before
