"""A job on several processes, in every mode: stage workers feed the one model process.

The job's own process holds the model (on the GPU when there is one) and does what has
to happen in order: the network pass over batches of frames, segment pooling (one sparse
product per map, on the model's device), matching, and the chain of the consecutive and
nearest modes. ``--workers N`` stage worker processes do everything else, ahead of it:
read and segment frame i, build its segment graph, make its network inputs and pooling
plan (:func:`~dacon_engine.model.featurizer.prepare_frame`); once frame i is matched, the
worker that holds it writes its outputs. Frames go to the workers in turn, at most
``ahead`` frames before the one being matched, so memory stays flat; each worker keeps
the frames it prepared until they are written.

The job picks this layout where the model runs on a GPU or frames chain (consecutive,
nearest); keyframe jobs with the model on the CPU give each worker whole frames and its
own model instead (:mod:`.workers`). Outputs equal the one-process path's: the same
functions run on the same numbers. Workers die with their parent
(:func:`.workers.die_with_parent`) and ignore SIGINT (Ctrl-C reaches the whole process
group: the parent stops them in order). A worker that fails names the frame; a
worker that dies (killed, out of memory) fails the job with a one-line error.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DaconError
from ..frames import SegmentedFrame
from ..matching.graphrefine import FrameGraph
from .workers import PARENT_POLL_S, WrittenFrame, die_with_parent

JOIN_S = 10.0        # how long a closing worker may take to finish its last write
_NO_PIXELS = np.zeros((0, 0), np.uint8)


# -- in the worker -------------------------------------------------------------------------
def _prepare(settings: dict, path: str) -> tuple[SegmentedFrame, SegmentedFrame,
                                                  FrameGraph | None, dict[str, float]]:
    """(the frame, what the model process needs of it, its graph, seconds per stage)."""
    from ..colorizer import segment_target
    from ..matching.graphrefine import frame_graph
    from ..model.featurizer import prepare_frame

    opts = settings["options"]
    t0 = time.perf_counter()
    frame = segment_target(path, opts)
    t1 = time.perf_counter()
    timings = {"segment": t1 - t0}
    graph = None
    if opts.matching.graph_refine:
        graph = frame_graph(frame.labels, frame.n_segments)
        timings["graph"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    spec = settings["spec"]
    if spec is None:  # a model that needs the pixels (the geometric baseline)
        sent = frame
    else:
        prepared = prepare_frame(spec, frame) if frame.n_segments else None
        sent = dataclasses.replace(frame, line=_NO_PIXELS, labels=_NO_PIXELS.astype(np.int32),
                                   prepared=prepared)
    timings["prepare"] = time.perf_counter() - t2
    return frame, sent, graph, timings


def _write(settings: dict, frame: SegmentedFrame, order: dict) -> tuple[list[Path], float]:
    from ..outputs.write import write_frame_outputs

    t0 = time.perf_counter()
    paths = write_frame_outputs(settings["out_dir"], order["name"], frame, order["assignment"],
                                formats=settings["formats"], model_name=order["model_name"],
                                references=settings["references"],
                                overwrite=settings["overwrite"], palette=settings["palette"],
                                matching=order["matching"], precision=order["precision"])
    return paths, time.perf_counter() - t0


def _failure(e: BaseException) -> tuple[str | None, str]:
    """(path, problem) of a worker's exception, for a DaconError in the parent."""
    if isinstance(e, DaconError):
        return e.path, e.problem
    last = traceback.extract_tb(e.__traceback__)[-1:] or [None]
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last[0] else ""
    return None, f"{type(e).__name__}: {e}{where}"


def _stage_main(inbox: Any, outbox: Any, stop: Any, settings: dict, parent: int) -> None:
    """A stage worker: "prepare" and "write" orders from ``inbox`` until None; once
    ``stop`` is set, the prepares still queued are skipped (writes are not)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    serve(inbox, outbox, stop, settings)


def serve(inbox: Any, outbox: Any, stop: Any, settings: dict) -> None:
    """A stage worker's loop (``inbox``/``outbox``: queues, ``stop``: an event)."""
    held: dict[int, SegmentedFrame] = {}
    while True:
        order = inbox.get()
        if order is None:
            return
        kind, index = order[0], order[1]
        if kind == "prepare" and stop.is_set():
            continue
        try:
            if kind == "prepare":
                frame, sent, graph, timings = _prepare(settings, order[2])
                held[index] = frame
                outbox.put(("ready", index, sent, graph, timings))
            else:  # "write"
                frame = held.pop(index)
                paths, seconds = _write(settings, frame, order[2])
                outbox.put(("written", index, WrittenFrame(
                    order[2]["name"], index, paths, {"write": seconds}, frame.n_segments)))
        except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the job
            outbox.put(("failed", index, kind, _failure(e)))


# -- in the model process ------------------------------------------------------------------
class StageWorkers:
    """``n`` stage worker processes feeding this (the model) process: a
    :class:`~dacon_engine.colorizer.FrameFeed` for ``Colorizer.colorize``, plus the
    writes of matched frames. Use as a context manager (the workers end with it)."""

    def __init__(self, n: int, targets: Sequence[Path], settings: dict, ahead: int):
        ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools deadlocks
        self.targets = list(targets)
        self.ahead = max(1, ahead)
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.stop = ctx.Event()
        self.procs = [ctx.Process(target=_stage_main, name=f"dacon-stage-{k}",
                                  args=(self.inboxes[k], self.outbox, self.stop, settings,
                                        os.getpid()),
                                  daemon=True) for k in range(n)]
        self.owner: dict[int, int] = {}          # frame -> the worker that holds it
        self.ready: dict[int, tuple[SegmentedFrame, FrameGraph | None]] = {}
        self.timings: dict[str, float] = {}      # the workers' seconds per stage, summed
        self.order: list[int] = []
        self.sent = 0                            # frames of ``order`` sent to be prepared
        self.taken = 0                           # frames of ``order`` the model took
        self.writes = 0                          # writes ordered and not yet reported
        self.finished: queue.Queue[WrittenFrame] = queue.Queue()
        self.failed: dict[int, DaconError] = {}  # frames a worker could not prepare
        self.failure: DaconError | None = None   # the job cannot go on (a write, a worker)
        self.cond = threading.Condition()
        self.closing = False
        for p in self.procs:
            p.start()
        self.receiver = threading.Thread(target=self._receive, name="dacon-stage-receiver",
                                         daemon=True)
        self.receiver.start()

    def __enter__(self) -> "StageWorkers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # FrameFeed
    def start(self, order: Sequence[int]) -> None:
        with self.cond:
            self.order, self.sent, self.taken = list(order), 0, 0
            self._top_up()

    def load(self, index: int) -> tuple[SegmentedFrame, FrameGraph | None]:
        with self.cond:
            while index not in self.ready:
                if index in self.failed:
                    raise self.failed[index]
                self._check()
                self.cond.wait(PARENT_POLL_S)
            self.taken += 1
            self._top_up()
            return self.ready.pop(index)

    # writes
    def write(self, index: int, order: dict) -> None:
        """Have the worker that holds frame ``index`` write it (``order``: name, assignment,
        matching record, model name, precision)."""
        with self.cond:
            self._check()
            self.writes += 1
            self.inboxes[self.owner.pop(index)].put(("write", index, order))

    def written(self, wait: bool = False) -> Iterator[WrittenFrame]:
        """Frames written since the last call; ``wait``: until every ordered write is."""
        while True:
            with self.cond:
                self._check()
                if self.writes == 0 and self.finished.empty():
                    return
            try:
                frame = self.finished.get(timeout=PARENT_POLL_S if wait else 0)
            except queue.Empty:
                if not wait:
                    return
                continue
            with self.cond:
                self.writes -= 1
            yield frame

    def close(self) -> None:
        """End the workers: writes they were given finish, frames not written are dropped."""
        with self.cond:
            self.closing = True
        self.stop.set()  # frames still queued to be prepared are skipped
        for inbox in self.inboxes:
            inbox.put(None)
        deadline = time.monotonic() + JOIN_S
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        self.receiver.join(2 * PARENT_POLL_S)
        for q in [self.outbox, *self.inboxes]:
            q.cancel_join_thread()
            q.close()

    # inside
    def _top_up(self) -> None:
        """Send frames to be prepared until ``ahead`` wait beyond those the model took."""
        while self.sent < len(self.order) and self.sent - self.taken < self.ahead:
            index = self.order[self.sent]
            k = self.sent % len(self.procs)
            self.owner[index] = k
            self.inboxes[k].put(("prepare", index, os.fspath(self.targets[index])))
            self.sent += 1

    def _check(self) -> None:
        """Raise what stops the job: a failed write, or a worker that died (checked here,
        not by the receiver, which a worker killed halfway through a message can leave
        waiting for the rest of it)."""
        if self.failure is None:
            dead = [p for p in self.procs if not p.is_alive()]
            if dead:
                self.failure = DaconError(None, f"a stage worker process ended (exit code "
                                                f"{dead[0].exitcode}) while colorizing; "
                                                "the frames written are whole: run again "
                                                "with --resume")
        if self.failure is not None:
            raise self.failure

    def _receive(self) -> None:
        """Take the workers' messages."""
        while True:
            try:
                kind, index, *rest = self.outbox.get(timeout=PARENT_POLL_S)
            except queue.Empty:
                if self.closing:
                    return
                continue
            except (EOFError, OSError, ValueError):  # closed
                return
            with self.cond:
                if kind == "ready":
                    frame, graph, timings = rest
                    self.ready[index] = (frame, graph)
                    for stage, seconds in timings.items():
                        self.timings[stage] = self.timings.get(stage, 0.0) + seconds
                elif kind == "written":
                    self.finished.put(rest[0])
                else:  # "failed": preparing frame ``index`` (the job fails when it needs
                    # it), or writing it (the job fails now)
                    stage, (path, problem) = rest
                    error = DaconError(path if path is not None else self.targets[index],
                                       problem)
                    if stage == "prepare":
                        self.failed[index] = error
                    elif self.failure is None:
                        self.failure = error
                self.cond.notify_all()
