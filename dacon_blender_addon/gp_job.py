"""A Grease Pencil colorize job in small steps, driven like the sequencer's :class:`jobs.ShotJob`.

:func:`start` checks everything that can be checked before anything is rendered (the object,
camera, output folder, every reference sheet, the frames, the engine interpreter) and returns a
:class:`GPJob` at once. :meth:`GPJob.update` (a modal operator's timer, or :meth:`GPJob.wait`)
does one step per call and never blocks on the engine: render one reference or line-art frame,
or poll the engine's colorize and trace jobs; then it writes the fills / plane back. Progress
goes to ``WindowManager.dacon_job`` like the sequencer's jobs, and the job is listed in
``jobs.ACTIVE`` so the Cancel button stops it too. A cancelled or failed job leaves the object
as it was (the files made so far stay in the output folder).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy

from . import compat_gpencil as cg
from . import engine, jobs, modal
from .gp_camera import check_camera
from .gp_fills import remove_fills, write_fills
from .gp_frames import GPError, line_layers, plan_frames
from .gp_plane import remove_plane, write_plane
from .gp_render import render_line_art, render_reference

KIND = "Grease Pencil colorize"
RENDER, COLORIZE, TRACE = "render", "colorize", "trace"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def default_output_dir(obj: Any) -> str:
    """``//dacon/gp/<object name>/`` with characters unsafe in folder names replaced."""
    name = _UNSAFE.sub("_", obj.name).strip(" .") or "gp"
    return f"//dacon/gp/{name}/"


def resolve_dir(path: str) -> Path:
    """An absolute folder; ``//`` needs a saved .blend."""
    if path.startswith("//") and not bpy.data.filepath:
        raise GPError(f"'{path}' is relative to the .blend file: save the .blend first "
                      "or choose an absolute output folder")
    return Path(os.path.normpath(bpy.path.abspath(path)))


def check_output_dir(path: str) -> Path:
    """The job's folder, made if missing and written to once (GPError naming it otherwise)."""
    work = resolve_dir(path)
    try:
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, prefix=".dacon-write-test-"):
            pass
    except OSError as ex:
        raise GPError(f"{work}: cannot write the renders and colored frames there "
                      f"({ex.strerror or ex})") from None
    return work


def check_references(scene: Any, obj: Any) -> None:
    """Every reference sheet can be used: files exist, filled frames have a drawing."""
    refs = obj.dacon_gp.references
    if len(refs) == 0:
        raise GPError("add a reference sheet first (a frame you filled, or a colored image)")
    keys = sorted({k for layer in line_layers(obj) for k in cg.frame_numbers(layer)})
    for i, ref in enumerate(refs, 1):
        if ref.source == "FRAME":
            if not any(k <= ref.frame for k in keys):
                raise GPError(f"reference sheet {i}: '{obj.name}' has no drawing at frame "
                              f"{ref.frame}")
            continue
        if not ref.color_path:
            raise GPError(f"reference sheet {i} has no colored image")
        for label, stored in (("colored image", ref.color_path), ("line art", ref.line_path)):
            if not stored:
                continue
            path = resolve_dir(stored)
            if not path.is_file():
                raise GPError(f"reference sheet {i}: {path}: no such {label} file")


def check_interpreter(python: str) -> None:
    """The engine interpreter is set and is a file."""
    if not python:
        raise GPError("no engine interpreter is set (add-on preferences: Engine Python, or "
                      "Set Up Engine)")
    if not os.path.isfile(python):
        raise GPError(f"{python}: no such engine interpreter")


class GPJob(modal.JobState):
    """Render, colorize, trace and write back one Grease Pencil object, step by step.

    ``state`` and ``progress`` work as in :class:`jobs.ShotJob`; ``phase`` is render,
    colorize or trace; ``report`` holds counts and seconds once done.
    """

    def __init__(self, scene: Any, obj: Any, *, python: str = "", client: Any = None) -> None:
        if not cg.is_gp_object(obj):
            raise GPError(f"'{getattr(obj, 'name', obj)}' is not a Grease Pencil object")
        settings = obj.dacon_gp
        if not settings.write_fills and not settings.write_plane:
            raise GPError("choose fills, a plane or both to write the colors back")
        self.work = check_output_dir(settings.output_dir or default_output_dir(obj))
        check_camera(scene)
        self.plan = plan_frames(scene, obj, settings.frames == "KEYS")
        check_references(scene, obj)
        if client is None:
            check_interpreter(python)
        self.kind = KIND
        self.scene_name = scene.name
        self.obj_name = self.shot_name = obj.name
        self.shot_uid = ""  # not a sequencer shot (jobs.job_for never matches it)
        self.python = python
        self.state = jobs.STARTING
        self.phase = RENDER
        self.progress: tuple[int, int] = (0, 0)
        self.message = "checking"
        self.error: str | None = None
        self.report: dict[str, Any] = {}
        self.pct = int(settings.resolution_percentage)
        self.gap_radius = int(settings.gap_radius)
        self.epsilon = float(settings.epsilon)
        self._todo: list[Callable[[], None]] = [
            functools.partial(self._render_reference, ref.source, int(ref.frame),
                              ref.color_path, ref.line_path)
            for ref in settings.references]  # plain values: the list may change meanwhile
        self._todo += [functools.partial(self._render_frame, f) for f in self.plan.rendered]
        self._steps = len(self._todo)
        self._refs: list[dict[str, Any]] = []
        self._lines: list[Path] = []
        self._t0 = time.perf_counter()
        self._times: dict[str, float] = {}
        self._cancel_requested = False
        self._client = client
        self._start = None if client is not None else engine.ClientStart(python)
        self._engine_job: Any = None
        jobs.ACTIVE.append(self)
        self.state = jobs.RUNNING
        self.message = "rendering"
        jobs.publish(self)

    # -- state ---------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        done, total = self.progress
        part = done / total if total else 0.0
        return {RENDER: 0.4 * part, COLORIZE: 0.4 + 0.5 * part, TRACE: 0.9 + 0.1 * part}[
            self.phase]

    def status_text(self) -> str:
        head = f"DACoN '{self.obj_name}'"
        done, total = self.progress
        if self.cancelling:
            return f"{head}: cancelling..."
        if self.done:
            return f"{head}: {self.message}"
        what = {RENDER: "rendering", COLORIZE: "colorizing", TRACE: "tracing fills"}
        return f"{head}: {what[self.phase]} {done}/{total}" if total else \
            f"{head}: {what[self.phase]}"

    def obj(self) -> tuple[Any, Any]:
        scene = bpy.data.scenes.get(self.scene_name)
        obj = bpy.data.objects.get(self.obj_name)
        if scene is None or obj is None or not cg.is_gp_object(obj):
            raise GPError(f"the Grease Pencil object '{self.obj_name}' is gone")
        return scene, obj

    # -- steps -----------------------------------------------------------------------
    def _render_reference(self, source: str, frame: int, color: str, line: str) -> None:
        scene, obj = self.obj()
        if source == "FRAME":
            self._refs.append(render_reference(scene, obj, frame, self.work / "ref",
                                               self.pct))
        else:
            self._refs.append({"color": str(resolve_dir(color)),
                               "line": str(resolve_dir(line)) if line else None})

    def _render_frame(self, frame: int) -> None:
        scene, obj = self.obj()
        (_f, path), = render_line_art(scene, obj, [frame], self.work / "line", self.pct)
        self._lines.append(path)

    def update(self) -> bool:
        """One step (main thread; one render at most, never waits on the engine). True once
        the job has ended."""
        if self.done:
            return True
        try:
            return self._advance()
        except GPError as ex:
            return self._end(jobs.FAILED, error=str(ex))
        except Exception as ex:  # noqa: BLE001 - engine errors, shown in one line
            return self._end(jobs.FAILED, error=engine.error_message(ex))

    def _advance(self) -> bool:
        if self.phase == RENDER:
            if self._cancel_requested:
                rendered = len(self._lines)
                return self._end(jobs.CANCELLED, f"cancelled while rendering ({rendered}/"
                                 f"{len(self.plan.rendered)} frames rendered); the object "
                                 "is unchanged")
            if self._todo:
                self._todo.pop(0)()
                self.progress = (self._steps - len(self._todo), self._steps)
                return self._publish()
            client = self._ready_client()
            if client is None:
                self.message = "starting the engine"
                return self._publish()
            self._times["render"] = time.perf_counter() - self._t0
            self._t1 = time.perf_counter()
            self.phase = COLORIZE
            self.progress = (0, len(self._lines))
            self._engine_job = client.colorize(
                targets=[str(p) for p in self._lines], references=self._refs,
                out=str(self.work / "color"), formats=("png", "json", "exr"),
                gap_radius=self.gap_radius, overwrite=True)
            return self._publish()
        job = self._engine_job
        for ev in job.poll():
            if ev.get("type") == "progress" and self.phase == COLORIZE:
                self.progress = (int(ev.get("done", 0)), int(ev.get("total", 0)))
        if not job.done:
            return self._publish()
        if job.error is not None:
            raise job.error
        if self.phase == COLORIZE:
            result = dict(job.result or {})
            if job.state == "cancelled" or self._cancel_requested:
                done = int(result.get("frames_done", self.progress[0]))
                return self._end(jobs.CANCELLED, f"cancelled after {done}/{len(self._lines)} "
                                 f"frames; the object is unchanged (the colored frames are "
                                 f"in {self.work / 'color'})")
            self.report["colorize"] = result
            self._times["colorize"] = time.perf_counter() - self._t1
            self._t1 = time.perf_counter()
            self.phase = TRACE
            self.progress = (0, len(self._lines))
            self._engine_job = self._ready_client().trace(
                self.work / "color", epsilon=self.epsilon, frames=[p.stem for p in self._lines])
            return self._publish()
        self._times["trace"] = time.perf_counter() - self._t1
        if self._cancel_requested:
            return self._end(jobs.CANCELLED, "cancelled after tracing; the object is unchanged")
        self.report["trace"] = dict(job.result or {})
        return self._write_back()

    def _write_back(self) -> bool:
        scene, obj = self.obj()
        settings = obj.dacon_gp
        report = self.report
        report.update(frames=len(self.plan.frames), rendered=len(self.plan.rendered),
                      seconds=self._times, output=str(self.work))
        color = self.work / "color"
        if settings.write_fills:
            fills = write_fills(scene, obj, self.plan, color)
            report["fills"] = fills
            self._times["fills"] = fills["seconds"]
        else:
            remove_fills(obj)
        if settings.write_plane:
            t = time.perf_counter()
            report["plane"] = write_plane(scene, obj, self.plan, color,
                                          self.work / "plane").name
            self._times["plane"] = time.perf_counter() - t
        else:
            remove_plane(obj)
        fills_text = f": {report['fills']['strokes']} fill strokes" if "fills" in report else ""
        return self._end(jobs.DONE, f"colorized {report['rendered']} drawings of "
                         f"'{self.obj_name}'{fills_text}")

    def _ready_client(self) -> Any:
        if self._client is not None:
            return self._client
        start = self._start
        assert start is not None
        if not start.done:
            return None
        if start.error is not None:
            raise start.error
        self._client = start.client
        return self._client

    # -- control ---------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop after the current render, or ask the engine to stop between frames."""
        if self.done:
            return
        self._cancel_requested = True
        job = self._engine_job
        if job is not None and not job.done:
            try:
                job.cancel()
            except Exception:  # noqa: BLE001 - a dead engine fails the job on its own
                pass
        self.message = "cancelling..."
        jobs.publish(self)

    def wait(self, timeout: float | None = None, interval: float = 0.02) -> "GPJob":
        """Drive the job to its end (scripts, background mode, tests)."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.update():
            if end is not None and time.monotonic() > end:
                self.cancel()
                raise TimeoutError(f"{self.status_text()}: no end within {timeout} s")
            if self.phase != RENDER or not self._todo:
                time.sleep(interval)  # waiting on the engine
        return self

    def _publish(self) -> bool:
        jobs.publish(self)
        return False

    def _end(self, state: str, message: str = "", error: str | None = None) -> bool:
        self.state = state
        self.error = error
        self.message = error if error is not None else message
        if self in jobs.ACTIVE:
            jobs.ACTIVE.remove(self)
        jobs.publish(self)
        return True


def start(scene: Any, obj: Any, *, python: str = "", client: Any = None) -> GPJob:
    """Check the object's settings and start its job (GPError before anything is rendered)."""
    running = job_for(obj)
    if running is not None:
        raise GPError(f"'{obj.name}' already has a job running")
    return GPJob(scene, obj, python=python, client=client)


def job_for(obj: Any) -> GPJob | None:
    """The unfinished job of this Grease Pencil object, or None."""
    name = getattr(obj, "name", None)
    found = (j for j in jobs.ACTIVE if isinstance(j, GPJob) and j.obj_name == name)
    return next(found, None)
