"""What the sequencer and Grease Pencil job operators share: following a job modally, and
its progress row in a panel.

A job has ``update()`` (one step; polls the engine), ``done``, ``cancelling``, ``cancel()``,
``wait()``, ``fraction`` and ``status_text()`` (:class:`jobs.ShotJob`, :class:`gp_job.GPJob`).
"""

from __future__ import annotations

from typing import Any

import bpy

from .compat import OperatorResult

STARTING, RUNNING, DONE, CANCELLED, FAILED = "starting", "running", "done", "cancelled", "failed"
FINAL = (DONE, CANCELLED, FAILED)


class JobState:
    """The state a job reports (mixed into the job classes)."""

    state: str = ""
    _cancel_requested: bool = False

    @property
    def done(self) -> bool:
        """True once the job ended (done, cancelled or failed)."""
        return self.state in FINAL

    @property
    def cancelling(self) -> bool:
        """True between a cancel and the job's end."""
        return self._cancel_requested and not self.done


class ModalJobOperator:
    """Operator mixin: start a job with ``_begin``, follow it to its end, report with
    ``_ended``. From the UI a timer calls ``job.update()`` (progress in the status bar, Esc
    cancels); from a script or in background mode the job runs to its end."""

    timer_interval = 0.2
    _job: Any = None
    _timer: Any = None

    def _begin(self, context: Any) -> Any:
        raise NotImplementedError

    def _ended(self, job: Any) -> OperatorResult:
        raise NotImplementedError

    def execute(self, context: Any) -> OperatorResult:
        """Run the job to its end (scripts and background mode)."""
        job = self._begin(context)
        if job is None:
            return {"CANCELLED"}
        return self._ended(job.wait())

    def invoke(self, context: Any, event: Any) -> OperatorResult:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        job = self._begin(context)
        if job is None:
            return {"CANCELLED"}
        self._job = job
        wm = context.window_manager
        self._timer = wm.event_timer_add(self.timer_interval, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: Any, event: Any) -> OperatorResult:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        job.update()
        if context.workspace is not None:
            hint = "" if job.cancelling else "  (Esc: cancel)"
            context.workspace.status_text_set(None if job.done else job.status_text() + hint)
        if not job.done:
            return {"RUNNING_MODAL"} if event.type == "ESC" else {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._ended(job)


def draw_job_row(layout: Any, job: Any) -> None:
    """A running job's progress bar (a label before 4.0's ``progress``) and Cancel button."""
    row = layout.row(align=True)
    if hasattr(row, "progress"):
        row.progress(factor=job.fraction, type="BAR", text=job.status_text())
    else:
        row.label(text=job.status_text())
    row.operator("dacon.cancel_job", text="", icon="CANCEL")
