"""Keyframe jobs on several CPU processes: frames are independent, so each worker process
reads, segments, runs the model, matches and writes whole frames on its own (nothing runs
in order, so nothing waits: the job picks this where the model runs on the CPU; with a GPU,
or in the chained modes, stage workers feed one model process instead: :mod:`.stages`).

The parent builds the reference bank once and hands it to every worker (a few hundred KB
per reference); each worker loads the model once and splits the machine's torch threads
with the others. Results are the same as the single-process path (the same functions run,
one frame at a time).

Workers die with their parent: each asks Linux for SIGKILL when the parent goes
(``PR_SET_PDEATHSIG``) and, on every system, a thread ends it once its parent process is
gone (re-parented: ``os.getppid()`` changes). Workers ignore SIGINT (Ctrl-C reaches the
whole process group): the parent stops them in order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..matching.bank import Bank


@dataclass
class WrittenFrame:
    """A frame a worker colorized and wrote (what callbacks need: its name and index)."""

    name: str
    index: int
    paths: list[Path]
    timings: dict[str, float]
    n_segments: int


_WORKER: dict = {}
PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """End this process as soon as process ``parent`` is gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent:  # gone before the death signal was set up
        os._exit(1)
    threading.Thread(target=watch, name="dacon-parent-watch", daemon=True).start()


def _init(settings: dict, bank: Bank, names: list[str], threads: int,
          parent: int | None = None) -> None:
    """A worker's start: the model and the bank; with ``parent`` (a pool worker) it also
    ignores SIGINT and ends with that process."""
    if parent is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(parent)
    import torch

    from ..colorizer import Colorizer

    torch.set_num_threads(threads)
    c = Colorizer(None, settings["options"])
    c.use_bank(bank, names, settings.get("graphs"), settings.get("mirror_features"),
               settings.get("view_rows"))
    if settings.get("adaptation") is not None:  # the parent's adapted weights
        c.use_adaptation(settings["adaptation"])
    _WORKER.update(colorizer=c, settings=settings)


def _colorize_one(index: int, path: str) -> WrittenFrame:
    from ..outputs.write import write_frame_outputs

    c = _WORKER["colorizer"]
    s = _WORKER["settings"]
    c.timings.clear()
    result = next(iter(c.colorize([path], "keyframe", batch_size=1)))
    t0 = time.perf_counter()
    opts = c.options
    paths = write_frame_outputs(s["out_dir"], result.name, result.frame, result.assignment,
                                formats=opts.formats, model_name=c.model_name,
                                references=c.reference_names(),
                                overwrite=opts.overwrite or opts.resume,
                                palette=c.palette,
                                matching=c.matching_record(result),
                                precision=c.running_precision)
    timings = dict(c.timings)
    timings["write"] = time.perf_counter() - t0
    return WrittenFrame(result.name, index, paths, timings, result.frame.n_segments)


def run_workers(targets: Sequence[Path], todo: Sequence[int], settings: dict, bank: Bank,
                names: list[str], workers: int,
                should_stop: Callable[[], bool]) -> Iterator[WrittenFrame]:
    """Colorize ``targets[i]`` for i in ``todo`` on ``workers`` processes; yield each written
    frame in ``todo`` order. When ``should_stop()`` turns true, frames not yet started are
    dropped and started ones finish (each frame's outputs are written atomically)."""
    import torch

    threads = max(1, torch.get_num_threads() // workers)
    ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools deadlocks
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                               initargs=(settings, bank, names, threads, os.getpid()))
    pending: list[tuple[int, Future]] = []
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # bounded: memory stays flat
                i = queue.pop(0)
                pending.append((i, pool.submit(_colorize_one, i, os.fspath(targets[i]))))
            _, future = pending.pop(0)
            yield future.result()
            if should_stop():
                queue.clear()
                for _, f in pending:
                    f.cancel()
                for _, f in pending:  # started frames finish; yield them too
                    if not f.cancelled():
                        yield f.result()
                pending.clear()
    finally:
        for _, f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
