"""The engine service: a long-lived process serving JSON-lines requests (docs/protocol.md).

Run it as ``python -m dacon_engine.jobs.service`` or ``dacon serve``. Requests are read from
stdin by a reader thread; jobs (``load_model``, ``colorize``) run one at a time on the main
thread in arrival order, further jobs queue; ``hello`` and the control requests
(``cancel``, ``shutdown``) are answered at once. The model stays loaded between jobs.
When stdin closes (the parent died) the current job is cancelled and the process exits
within a couple of seconds, so no orphan keeps a GPU.

Only protocol events go to stdout (the real fd 1 is kept for them and fd 1 is pointed at
stderr, so a stray print from a library cannot corrupt the stream); logs go to stderr.
"""

from __future__ import annotations

import itertools
import os
import platform
import queue
import resource
import signal
import sys
import threading
import time
import traceback
from typing import IO, Any

from .. import __version__
from ..errors import DaconError
from ..options import DEVICES, FLAT_NAMES, ColorizeOptions
from ..protocol import (
    CONTROL_REQUESTS,
    PROTOCOL_VERSION,
    ProtocolError,
    check_request,
    decode,
    encode,
    event,
    shown,
)

EXIT_GRACE_S = 1.0  # after stdin closes, how long a running frame may take to finish


class _Job:
    def __init__(self, req: dict):
        self.req = req
        self.id: str = req["id"]
        self.cancel = threading.Event()
        self.ended = False  # its terminal event was sent (guarded by Service._lock)


class Service:
    """The request loop; ``run()`` returns the process exit code."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], *, default_device: str | None = None,
                 exit_on_eof: bool = True):
        self.stdin = stdin
        self.stdout = stdout
        self.default_device = default_device or "auto"
        self.exit_on_eof = exit_on_eof
        self._out_lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._jobs: dict[str, _Job] = {}          # queued or running, by id
        self._current: _Job | None = None
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.signalled: int | None = None  # the signal that stopped the service

    # -- output ---------------------------------------------------------------------
    def emit(self, kind: str, rid: str | None = None, **fields: Any) -> None:
        data = encode(event(kind, rid, **fields))
        with self._out_lock:
            try:
                self.stdout.write(data)
                self.stdout.flush()
            except (BrokenPipeError, OSError, ValueError):  # the parent is gone
                self._closing.set()

    def log(self, message: str, rid: str | None = None, level: str = "info") -> None:
        print(f"dacon-engine: {message}", file=sys.stderr, flush=True)
        self.emit("log", rid, level=level, message=message)

    def _error(self, rid: str | None, exc: BaseException | str, *, tb: bool = True) -> None:
        if isinstance(exc, str):
            self.emit("error", rid, message=exc, file=None, traceback=None)
            return
        if isinstance(exc, DaconError):
            message, path = str(exc), exc.path
        else:
            first = (str(exc).strip().splitlines() or [""])[0]
            message, path = f"{type(exc).__name__}: {first}".rstrip(": "), None
        text = "".join(traceback.format_exception(exc)) if tb else None
        self.emit("error", rid, message=message, file=path, traceback=text)

    # -- input ----------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._closing.is_set():
            try:
                line = self.stdin.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                break
            if not line.endswith(b"\n"):  # a half-written last line before EOF
                self._error(None, f"incomplete request line at end of input: {line[:80]!r}")
                break
            self._handle_line(line)
        self._on_eof()

    def _handle_line(self, line: bytes) -> None:
        try:
            self._handle_request(line)
        except Exception as e:  # noqa: BLE001 - whatever a line holds, the reader lives on
            self._error(None, f"bad request: {type(e).__name__}: {shown(str(e))}", tb=False)

    def _busy_id(self, rid: str | None) -> bool:
        with self._lock:
            return rid is not None and rid in self._jobs

    def _handle_request(self, line: bytes) -> None:
        rid = None
        try:
            msg = decode(line)
            rid = msg.get("id") if isinstance(msg.get("id"), str) else None
            req, unknown = check_request(msg)
        except ProtocolError as e:
            if line.strip():  # a queued or running job's id would get a second terminal event
                busy = self._busy_id(rid)
                self._error(None if busy else rid, f"bad request: {e}"
                            + (f" (its id {shown(rid)} belongs to a queued or running job)"
                               if busy else ""))
            return
        if req["id"] is None:
            req["id"] = f"e{next(self._ids)}"
        if unknown:
            self.emit("log", req["id"], level="warning",
                      message=f"{req['type']}: unknown field(s) ignored: {', '.join(unknown)}")
        kind = req["type"]
        if kind in CONTROL_REQUESTS:
            self._control(req)
            return
        with self._lock:
            busy = req["id"] in self._jobs
        if busy:  # id null: the running job with this id gets no second terminal event
            self.emit("error", None, message=f"{kind}: refused: a job with id "
                      f"{shown(req['id'])} is already queued or running",
                      file=None, traceback=None, duplicate_id=req["id"])
            return
        with self._lock:
            job = _Job(req)
            if kind != "hello":
                self._jobs[job.id] = job
        self.emit("accepted", job.id, request=kind)
        if kind == "hello":
            self._run_job(job)  # answered at once, even while a job runs
        else:
            self._queue.put(job)

    def _control(self, req: dict) -> None:
        if req["type"] == "shutdown":
            self.log("shutdown requested")
            self._stop_all()
            return
        target = req["job"]
        with self._lock:
            job = self._jobs.get(target)
        if job is None:
            self._error(req["id"], f"cancel: no queued or running job {shown(target)}")
            return
        job.cancel.set()
        if job is not self._current:  # queued: it ends now, not after the running job
            self._finish(job, "cancelled", {})

    def _stop_all(self) -> None:
        """Cancel every job (the running one stops within a frame) and end the loop."""
        self._closing.set()
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._queue.put(None)

    def on_signal(self, signum: int, _frame: object = None) -> None:
        """SIGTERM / SIGINT handler in the main thread: nothing to do there (the main
        thread may be deep in a frame); the signal's wakeup byte reaches
        :meth:`watch_signals` at once."""

    def watch_signals(self, wakeup_fd: int) -> None:
        """Thread: on SIGTERM / SIGINT (their bytes on ``wakeup_fd``, written by
        ``signal.set_wakeup_fd`` as the signal arrives) stop like ``shutdown``: the running
        job stops within a frame and every job ends with one terminal event. A second
        signal leaves at once."""
        while data := os.read(wakeup_fd, 1):
            signum = data[0]
            if signum not in (signal.SIGTERM, signal.SIGINT):
                continue
            if self.signalled is not None:
                os._exit(128 + signum)
            self.signalled = signum
            self._stop_all()

    def _on_eof(self) -> None:
        if not self.exit_on_eof:
            self._queue.put(None)
            return
        self._stop_all()
        # the main thread stops between frames; if a frame runs long, leave anyway:
        # an orphan must never hold the GPU after its parent died
        timer = threading.Timer(EXIT_GRACE_S, lambda: os._exit(0))
        timer.daemon = True
        timer.start()

    # -- jobs -----------------------------------------------------------------------
    def run(self) -> int:
        reader = threading.Thread(target=self._read_loop, name="dacon-stdin", daemon=True)
        reader.start()
        while True:
            job = self._queue.get()
            if job is None:
                break
            if self._closing.is_set():
                job.cancel.set()
            self._run_job(job)
        with self._lock:
            left = list(self._jobs.values())
        for job in left:  # queued behind a shutdown
            self._finish(job, "cancelled", {})
        return 0

    def _end(self, job: _Job) -> bool:
        """Mark ``job`` ended; False when its terminal event was already sent."""
        with self._lock:
            if job.ended:
                return False
            job.ended = True
            if self._jobs.get(job.id) is job:
                del self._jobs[job.id]
            return True

    def _finish(self, job: _Job, status: str, result: dict) -> None:
        if self._end(job):
            self.emit("job_done", job.id, status=status, result=result)

    def _run_job(self, job: _Job) -> None:
        if job.cancel.is_set():
            self._finish(job, "cancelled", {})
            return
        self._current = job
        try:
            handler = getattr(self, f"_do_{job.req['type']}")
            status, result = handler(job)
        except BaseException as e:  # noqa: BLE001 - every failure becomes an error event
            if self._end(job):
                self._error(job.id, e)
            if isinstance(e, KeyboardInterrupt):
                raise
        else:
            self._finish(job, status, result)
        finally:
            self._current = None

    def _do_hello(self, job: _Job) -> tuple[str, dict]:
        return "done", hello_info(job.req.get("protocol"))

    def _device(self, req: dict) -> str:
        return req.get("device") or self.default_device

    def _featurizer(self, req: dict, rid: str):
        from ..model.registry import build_featurizer

        t0 = time.perf_counter()
        feat = build_featurizer(req["model"], device=self._device(req),
                                dinov2_weights=req["dinov2_weights"])
        took = time.perf_counter() - t0
        if took > 0.05:
            self.log(f"loaded model {feat.name} on {getattr(feat, 'device', 'cpu')} "
                     f"in {took:.1f} s", rid)
        return feat

    def _do_load_model(self, job: _Job) -> tuple[str, dict]:
        self.emit("progress", job.id, done=0, total=1, fps=0.0)
        feat = self._featurizer(job.req, job.id)
        return "done", {"model": feat.name, "device": str(getattr(feat, "device", "cpu"))}

    def _do_colorize(self, job: _Job) -> tuple[str, dict]:
        from ..model.memory import restore, snapshot
        from .pipeline import ColorizeJob

        req = job.req
        job_start = time.perf_counter()
        self._reset_gpu_peak()
        feat = self._featurizer(req, job.id)
        saved = snapshot(feat)
        refs = req["references"]
        options = ColorizeOptions.from_flat(
            **{name: req[name] for name in FLAT_NAMES}).replace(device=self._device(req))
        work = ColorizeJob.create(
            req["targets"], out=req["out"], refs=[r["color"] for r in refs],
            ref_lines=[r.get("line") for r in refs], options=options, quiet=True,
            featurizer=feat, log=lambda message: self.log(message, job.id, "warning"))
        total = len(work.selected or [])
        self.emit("progress", job.id, done=0, total=total, fps=0.0)
        started = time.perf_counter()

        def on_frame(result, paths, k, n):
            fps = k / max(time.perf_counter() - started, 1e-9)
            self.emit("frame_done", job.id, frame=result.name,
                      target=str(work.targets[result.index]), index=k, total=n,
                      files=[str(p) for p in paths])
            self.emit("progress", job.id, done=k, total=n, fps=round(fps, 3))

        try:
            summary = work.run(on_frame, should_stop=lambda: job.cancel.is_set()
                               or self.signalled is not None)
        finally:
            restore(feat, saved)
        result = summary.as_dict()
        result["job_seconds"] = round(time.perf_counter() - job_start, 4)  # incl. checks
        result.update(peak_memory())
        return ("cancelled" if summary.cancelled else "done"), result

    def _do_recolor(self, job: _Job) -> tuple[str, dict]:
        from ..outputs.recolor import recolor_shot

        self.emit("progress", job.id, done=0, total=0, fps=0.0)

        def on_frame(stem, k, n):
            self.emit("progress", job.id, done=k, total=n, fps=0.0)

        return "done", recolor_shot(job.req["out"], job.req["palette"], on_frame=on_frame)

    def _do_review(self, job: _Job) -> tuple[str, dict]:
        from ..outputs.review import review_shot

        req = job.req
        self.emit("progress", job.id, done=0, total=1, fps=0.0)
        return "done", review_shot(req["out"], req["threshold"], req["review_dir"])

    def _do_trace(self, job: _Job) -> tuple[str, dict]:
        from ..outputs.trace import trace_shot

        req = job.req
        frames = req["frames"]
        if frames is not None and not all(isinstance(f, str) for f in frames):
            raise ProtocolError("trace: 'frames' must be a list of frame stems")
        self.emit("progress", job.id, done=0, total=0, fps=0.0)

        def on_frame(result, k, n):
            self.emit("progress", job.id, done=k, total=n, fps=0.0)

        return "done", trace_shot(req["out"], epsilon=req["epsilon"], expand=req["expand"],
                                  frames=frames, on_frame=on_frame)

    @staticmethod
    def _reset_gpu_peak() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()


def peak_memory() -> dict:
    """Peak resident memory of this process and, with CUDA, peak GPU memory of the job."""
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    import torch

    if torch.cuda.is_available():
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def hello_info(client_protocol: int | None = None) -> dict:
    """What ``hello`` reports: versions, devices, models."""
    import torch

    from ..model.devices import available_devices
    from ..model.registry import list_all_models

    info = {
        "protocol": PROTOCOL_VERSION,
        "engine_version": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "pid": os.getpid(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "devices": available_devices(),
        "models": list_all_models(),
    }
    if client_protocol is not None and client_protocol != PROTOCOL_VERSION:
        info["warning"] = (f"client speaks protocol {client_protocol}, "
                           f"this engine speaks {PROTOCOL_VERSION}")
    return info


def serve(default_device: str | None = None) -> int:
    """Serve on this process's stdin/stdout (see the module docstring)."""
    if default_device not in (None, "auto"):
        from ..model.devices import check_device

        check_device(default_device)  # refuse a device this machine lacks before serving
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # strays from C or Python -> stderr
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    service = Service(stdin, proto_out, default_device=default_device)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    threading.Thread(target=service.watch_signals, args=(wake_r,), name="dacon-signals",
                     daemon=True).start()
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, service.on_signal)
    print(f"dacon-engine {__version__}: serving protocol {PROTOCOL_VERSION} (pid {os.getpid()})",
          file=sys.stderr, flush=True)
    code = service.run()
    if service.signalled is not None:
        name = signal.Signals(service.signalled).name
        print(f"dacon-engine: stopped by {name}; the running job ended as cancelled",
              file=sys.stderr, flush=True)
        code = 128 + service.signalled
    # leave without interpreter teardown: the stdin reader thread may sit in readline()
    # holding stdin's buffer lock ("Fatal Python error: _enter_buffered_busy")
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dacon_engine.jobs.service",
                                     description="DACoN engine service (JSON lines on stdio)")
    parser.add_argument("--device", default=None, choices=DEVICES)
    args = parser.parse_args(argv)
    from .malloctune import keep_freed_memory

    keep_freed_memory()  # the entry point's process-wide allocator setting (see there)
    try:
        return serve(args.device)
    except DaconError as e:
        print(f"dacon: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
