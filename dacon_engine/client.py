"""Client for the engine service: start it with a chosen interpreter and drive its jobs.

Standard library only (no torch, no numpy): Blender's Python and the add-on import it.

    from dacon_engine.client import EngineClient
    with EngineClient("/path/to/venv/bin/python") as engine:   # starts it, says hello
        job = engine.colorize(targets=["shot/line"], references=[{"color": "key.png"}],
                              out="shot/color")
        while not job.done:            # e.g. from a Blender timer: never blocks
            for ev in job.poll(): ...
            time.sleep(0.1)
        job.wait()                     # result dict, or raises EngineError

A reader thread routes the engine's events to per-request :class:`Job` handles; callers
read state from their own thread (``poll``/``progress``/``wait``). If the engine dies,
every unfinished job fails with :class:`EngineDied`; start a new client (or ``restart``).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .options import ColorizeOptions
from .protocol import PROTOCOL_VERSION, ProtocolError, decode, encode, request

SERVICE_MODULE = "dacon_engine.jobs.service"
READ_BUFFER = 1 << 16  # bytes per read of the engine's pipes
_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)'?")


class EngineError(Exception):
    """An error reported by (or about) the engine.

    ``message`` is one line; ``file`` the file it names (or None); ``traceback`` the
    engine-side traceback or the engine's last stderr lines (or None).
    """

    def __init__(self, message: str, file: str | None = None, traceback: str | None = None):
        self.message = " ".join(str(message).split())
        self.file = file
        self.traceback = traceback
        super().__init__(self.message)


class EngineDied(EngineError):
    """The engine process ended while work was pending (or was not running)."""


class EngineStartError(EngineError):
    """The engine could not be started with this interpreter (or speaks another protocol)."""


QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"


class Job:
    """One request's life: state, progress, frames done, result or error (thread-safe)."""

    def __init__(self, client: "EngineClient", rid: str, kind: str):
        self.client = client
        self.id = rid
        self.kind = kind
        self.state = QUEUED
        self.progress: tuple[int, int] = (0, 0)
        self.fps = 0.0
        self.frames: list[dict] = []
        self.logs: list[dict] = []
        self.result: dict | None = None
        self.error: EngineError | None = None
        self._events: collections.deque[dict] = collections.deque()
        self._finished = threading.Event()
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        """True once the job ended (done, cancelled or failed)."""
        return self._finished.is_set()

    def _feed(self, ev: dict) -> None:
        kind = ev.get("type")
        with self._lock:
            self._events.append(ev)
            if kind == "progress":
                self.state = RUNNING if self.state == QUEUED else self.state
                self.progress = (int(ev.get("done", 0)), int(ev.get("total", 0)))
                self.fps = float(ev.get("fps", 0.0))
            elif kind == "frame_done":
                self.frames.append(ev)
            elif kind == "log":
                self.logs.append(ev)
            elif kind == "job_done":
                self.result = ev.get("result") or {}
                self.state = CANCELLED if ev.get("status") == "cancelled" else DONE
            elif kind == "error":
                self.error = EngineError(ev.get("message", "engine error"), ev.get("file"),
                                         ev.get("traceback"))
                self.state = FAILED
        if kind in ("job_done", "error"):
            self._finished.set()

    def _die(self, err: EngineError) -> None:
        with self._lock:
            if self._finished.is_set():
                return
            self.error = err
            self.state = FAILED
            self._events.append({"type": "error", "id": self.id, "message": err.message,
                                 "file": None, "traceback": err.traceback})
        self._finished.set()

    def poll(self) -> list[dict]:
        """Events received since the last poll (never blocks)."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out

    def wait(self, timeout: float | None = None) -> dict:
        """Block until the job ends; its result (raises EngineError, or TimeoutError)."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"engine job {self.id} ({self.kind}) did not finish within "
                               f"{timeout} s")
        if self.error is not None:
            raise self.error
        return self.result or {}

    def cancel(self) -> None:
        """Ask the engine to stop this job between frames (finished frames stay)."""
        if not self.done:
            self.client.cancel(self.id)


class EngineClient:
    """A running engine service, started with ``python -m dacon_engine.jobs.service``.

    python: the interpreter of an environment with the engine and torch installed.
    env: extra environment variables for the engine. on_log: called (from the reader
    thread) with each log event that belongs to no job, and each stderr line.
    """

    def __init__(self, python: str | os.PathLike | None = None, *,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 args: Sequence[str] = (), on_log: Callable[[str], None] | None = None,
                 stderr_lines: int = 200):
        self.python = os.fspath(python) if python is not None else sys.executable
        self.env = dict(env or {})
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.args = list(args)
        self.on_log = on_log
        self.info: dict | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self.unrouted: collections.deque[dict] = collections.deque(maxlen=200)
        self._proc: subprocess.Popen | None = None
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dead: EngineDied | None = None
        self._ended = threading.Event()  # set once the stdout reader saw the engine end
        self._threads: list[threading.Thread] = []

    # -- life cycle -----------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._dead is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 120.0) -> dict:
        """Start the engine and say hello; returns the engine's hello info.

        Raises EngineStartError when the interpreter is missing, cannot run the engine,
        does not answer within ``timeout`` s, or speaks another protocol version.
        """
        if self.alive:
            return self.info or {}
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)  # Blender's would redirect the venv's standard library
        env.update({"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"})
        env.update(self.env)
        cmd = [self.python, "-m", SERVICE_MODULE, *self.args]
        try:
            # buffered pipes: readline() on an unbuffered pipe reads one byte per system
            # call (a 10 MB event took seconds); writes are flushed per message
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, cwd=self.cwd, env=env,
                                          close_fds=True, bufsize=READ_BUFFER)
        except FileNotFoundError:
            raise EngineStartError(f"{self.python}: no such interpreter", self.python) from None
        except PermissionError:
            raise EngineStartError(f"{self.python}: not executable", self.python) from None
        except OSError as e:
            raise EngineStartError(f"{self.python}: cannot start ({e.strerror or e})",
                                   self.python) from None
        self._dead = None
        self._ended.clear()
        self._threads = [
            threading.Thread(target=self._read_stderr, name="dacon-engine-err", daemon=True),
            threading.Thread(target=self._read_stdout, name="dacon-engine-out", daemon=True),
        ]
        for t in self._threads:  # stderr first: the stdout reader joins it at the end
            t.start()
        try:
            info = self.request("hello", protocol=PROTOCOL_VERSION).wait(timeout)
        except TimeoutError:
            self.terminate()
            raise EngineStartError(f"{self.python}: the engine did not answer within "
                                   f"{timeout:g} s", self.python, self._tail()) from None
        except EngineError:
            self._ended.wait(5.0)  # the exit code and the stderr tail are in
            code = self._proc.poll()
            self.terminate()
            raise EngineStartError(self._start_failure(code), self.python,
                                   self._tail()) from None
        if info.get("protocol") != PROTOCOL_VERSION:
            self.shutdown()
            raise EngineStartError(
                f"{self.python}: the engine there speaks protocol {info.get('protocol')} "
                f"(engine {info.get('engine_version')}) but this client speaks "
                f"{PROTOCOL_VERSION}: install matching versions", self.python)
        self.info = info
        return info

    def restart(self, timeout: float = 120.0) -> dict:
        """Stop this engine (if running) and start a fresh one."""
        self.shutdown()
        self._proc = None
        return self.start(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the engine to stop, close its stdin, and terminate it if it lingers."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._send(request("shutdown"))
            except EngineError:
                pass
            self._close_stdin()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.terminate()
        for t in self._threads:
            t.join(timeout=2.0)

    def terminate(self) -> None:
        """Last resort: terminate (then kill) the engine process."""
        proc = self._proc
        if proc is None:
            return
        self._close_stdin()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3.0)
        for t in self._threads:
            t.join(timeout=2.0)

    def __enter__(self) -> "EngineClient":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- requests -------------------------------------------------------------------
    def request(self, kind: str, **fields: Any) -> Job:
        """Send a job request; its :class:`Job` handle."""
        rid = f"c{next(self._ids)}"
        job = Job(self, rid, kind)
        with self._lock:
            self._jobs[rid] = job
        try:
            self._send(request(kind, rid, **fields))
        except EngineError as e:
            with self._lock:
                self._jobs.pop(rid, None)
            job._die(e if isinstance(e, EngineDied) else EngineDied(e.message))
        return job

    def colorize(self, *, targets: Iterable[str | os.PathLike], out: str | os.PathLike,
                 references: Iterable[dict] = (), options: ColorizeOptions | None = None,
                 **flat_options: Any) -> Job:
        """Colorize ``targets`` into ``out``; references are {"color": path, "line": path}.

        options: a :class:`~dacon_engine.options.ColorizeOptions`, or its flat names as
        keywords (``mode="nearest"``, ``formats=["png", "exr"]``, ``palette=path``,
        ``mirror=False`` ...). The engine validates them: a bad value ends the job with an
        ``error`` event naming the option. Off-palette reference colors come back as
        warning ``log`` events, or refuse the job with ``strict_palette``."""
        opts = (options or ColorizeOptions()).replace(**flat_options)
        fields = {name: os.fspath(value) if isinstance(value, os.PathLike) else value
                  for name, value in opts.flat().items()}
        refs = [{"color": os.fspath(r["color"]),
                 "line": None if r.get("line") is None else os.fspath(r["line"])}
                for r in references]
        return self.request("colorize", targets=[os.fspath(t) for t in targets],
                            references=refs, out=os.fspath(out), **fields)

    def recolor(self, out: str | os.PathLike, palette: str | os.PathLike) -> Job:
        """Rewrite a colored shot with another palette of the same names (no model)."""
        return self.request("recolor", out=os.fspath(out), palette=os.fspath(palette))

    def load_model(self, model: str = "default", device: str | None = None,
                   dinov2_weights: str | None = None) -> Job:
        return self.request("load_model", model=model, device=device,
                            dinov2_weights=dinov2_weights)

    def review(self, out: str | os.PathLike, threshold: float = 0.5,
               review_dir: str | os.PathLike | None = None) -> Job:
        """Highlight low-confidence segments of a colored shot (see ``dacon review``)."""
        return self.request("review", out=os.fspath(out), threshold=threshold,
                            review_dir=None if review_dir is None else os.fspath(review_dir))

    def trace(self, out: str | os.PathLike, *, epsilon: float = 0.5, expand: bool = True,
              frames: Sequence[str] | None = None) -> Job:
        """Trace a colored shot's segments into polygons (``<stem>.trace.json``)."""
        return self.request("trace", out=os.fspath(out), epsilon=epsilon, expand=expand,
                            frames=None if frames is None else list(frames))

    def hello(self) -> Job:
        return self.request("hello", protocol=PROTOCOL_VERSION)

    def cancel(self, job_id: str) -> None:
        self._send(request("cancel", job=job_id))

    def send_raw(self, data: bytes) -> None:
        """Write raw bytes to the engine's stdin (tests of malformed input)."""
        self._write(data)

    # -- plumbing -------------------------------------------------------------------
    def _send(self, msg: dict) -> None:
        self._write(encode(msg))

    def _write(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or self._dead is not None or proc.poll() is not None:
            raise self._dead or EngineDied("the engine is not running (start it again)")
        with self._write_lock:
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise EngineDied("the engine is not running (it stopped; start it again)",
                                 traceback=self._tail()) from None

    def _close_stdin(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with self._write_lock:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            try:
                ev = decode(raw)
            except ProtocolError:  # not ours: keep it as a log line
                self._log(raw.decode("utf-8", "replace").rstrip())
                continue
            ev["seq"] = next(self._seq)  # arrival order across jobs
            rid = ev.get("id")
            with self._lock:
                job = self._jobs.get(rid) if isinstance(rid, str) else None
                if job is not None and ev.get("type") in ("job_done", "error"):
                    self._jobs.pop(rid, None)
            if job is not None:
                job._feed(ev)
            else:
                self.unrouted.append(ev)
                if ev.get("type") in ("log", "error"):
                    self._log(f"engine {ev.get('type')}: {ev.get('message')}")
        self._engine_ended(proc)

    def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            self._log(line)

    def _log(self, line: str) -> None:
        if self.on_log is not None:
            try:
                self.on_log(line)
            except Exception:  # noqa: BLE001 - a logging callback must not kill the reader
                pass

    def _engine_ended(self, proc: subprocess.Popen) -> None:
        try:
            try:
                code = proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                code = None
            for t in self._threads:
                if t is not threading.current_thread() and t.ident is not None:
                    t.join(timeout=1.0)  # let the stderr tail fill in
            problem = self._start_problem() or self._last_words()
            detail = f": {problem}" if problem else ""
            err = EngineDied(f"the engine stopped unexpectedly ({exit_text(code)}){detail}",
                             traceback=self._tail())
            self._dead = err
            with self._lock:
                pending = list(self._jobs.values())
                self._jobs.clear()
            for job in pending:
                job._die(err)
        finally:
            self._ended.set()

    def _last_words(self) -> str | None:
        """The engine's last non-empty stderr line (what it said before it ended)."""
        return next((line.strip() for line in reversed(self.stderr_tail) if line.strip()), None)

    def _start_failure(self, code: int | None) -> str:
        """One line for an engine that ended (or never spoke) before answering hello."""
        said = self._start_problem() or self._last_words()
        if code is None:
            return (f"{self.python}: cannot start the engine"
                    + (f": {said}" if said else " (it stopped answering)"))
        head = f"{self.python}: the engine exited at once ({exit_text(code)})"
        if said:
            return f"{head}: {said}"
        return (f"{head} and printed nothing: is it the Python of an environment with "
                f"dacon_engine installed?")

    def _tail(self, n: int = 30) -> str | None:
        lines = list(self.stderr_tail)[-n:]
        return "\n".join(lines) if lines else None

    def _start_problem(self, extra: Sequence[str] = ()) -> str | None:
        """A plain-words reason from ``extra`` or the engine's stderr (missing modules, ...)."""
        for line in [*extra, *reversed(self.stderr_tail)]:
            found = _MISSING_MODULE.search(line)
            if found:
                mod = found.group(1)
                top = mod.split(".")[0]
                if top == "dacon_engine":
                    return ("the DACoN engine is not installed in this interpreter "
                            "(pip install dacon-engine, or use 'Set up engine')")
                return f"{top} is not installed in this interpreter (No module named {mod!r})"
            if line.startswith(("ModuleNotFoundError", "ImportError", "SyntaxError")):
                return line
        return None


def exit_text(code: int | None) -> str:
    """An exit status in words: "exit code 3", "killed by SIGKILL", "exit code unknown"."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def doctor(python: str | os.PathLike | None = None, timeout: float = 120.0) -> dict:
    """Check an interpreter: can it start the engine, and what does the engine see?

    Returns {"ok", "python", "error", "engine_version", "protocol", "torch", "cuda",
    "devices", "models", "missing"}; ``missing`` lists what stops models or devices.
    """
    py = os.fspath(python) if python is not None else sys.executable
    report: dict[str, Any] = {"ok": False, "python": py, "error": None, "engine_version": None,
                              "protocol": None, "torch": None, "cuda": None, "devices": [],
                              "models": [], "missing": []}
    client = EngineClient(py)
    try:
        info = client.start(timeout)
    except EngineError as e:
        report["error"] = e.message
        return report
    finally:
        client.shutdown()
    report.update({k: info.get(k) for k in ("engine_version", "protocol", "torch", "cuda",
                                            "devices", "models", "executable")})
    report["ok"] = True
    missing = [f"model {m['name']}: needs {m['needs']}" for m in info.get("models", [])
               if not m.get("available")]
    if not info.get("cuda_available"):
        missing.append("no CUDA GPU usable by torch: the engine runs on the CPU")
    report["missing"] = missing
    return report


def format_doctor(report: dict) -> str:
    """The doctor report in plain words (what the add-on's Check engine button shows)."""
    if not report.get("ok"):
        return f"engine check failed: {report.get('error')}"
    lines = [f"engine {report['engine_version']} (protocol {report['protocol']}) "
             f"at {report['python']}",
             f"torch {report['torch']}, CUDA {report['cuda'] or 'not available'}"]
    for d in report.get("devices", []):
        mem = d.get("memory_total")
        extra = f", {mem / 2**30:.1f} GiB" if mem else ""
        lines.append(f"device {d['name']}: {d.get('label', '')}{extra}")
    ready = [m["name"] for m in report.get("models", []) if m.get("available")]
    lines.append(f"models ready: {', '.join(ready) or 'none'}")
    lines += [f"missing: {m}" for m in report.get("missing", [])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    """``python -m dacon_engine.client [PYTHON]``: print the doctor report as JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    report = doctor(args[0] if args else None)
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
