"""SIGTERM / SIGINT during a file job (how a farm or a terminal stops a task).

Before the job runs, a signal stops at once (nothing is written yet); while it runs, the
frame being written finishes, then the job stops; a second signal stops at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


class StopOnSignals:
    """Context manager: ``signum`` is the signal that asked the running job to stop."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.running = False
        self._previous: dict = {}

    def _handle(self, signum: int, _frame: object) -> None:
        if not self.running or self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def is_set(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)


def run_stoppable(make_job: Callable[[], Any], prefix: str = "dacon") -> tuple[Any, Any, int]:
    """Make and run a :class:`pipeline.ColorizeJob` that a signal stops between frames.

    Returns ``(job, summary, code)``: ``code`` is 0, or ``128 + signal`` after one line on
    stderr saying what was written.
    """
    with StopOnSignals() as stop:
        job = make_job()
        stop.running = True
        summary = job.run(should_stop=stop.is_set)
    if stop.signum is None:
        return job, summary, 0
    print(f"{prefix}: stopped by {signal.Signals(stop.signum).name}: {summary.frames_done} of "
          f"{summary.frames_selected - summary.frames_skipped} frames written, nothing partial "
          "left (run again with --resume to finish)", file=sys.stderr, flush=True)
    return job, summary, 128 + stop.signum
