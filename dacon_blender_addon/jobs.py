"""Engine jobs on shots, as plain functions the operators, the batch script and tests call.

``start_colorize(scene, strip)`` builds the request from the shot's settings and the add-on's
preferences and returns a :class:`ShotJob` at once: the engine starts in a worker thread and
runs the job in its own process. Whoever owns the job calls :meth:`ShotJob.update` now and then
on Blender's main thread (a modal operator's timer, or a loop in background mode): it never
blocks, mirrors progress into ``WindowManager.dacon_job`` for the panel and status bar, and
when the engine is done it adds or updates the result strip (:func:`finish_colorize`).

Recolor (a palette swap), review, "use frame as reference" and "colorize from here" live here
too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import bpy

from . import compat, engine, flatcolor, modal, results, shots
from .modal import CANCELLED, DONE, FAILED, FINAL, RUNNING, STARTING  # noqa: F401 (re-exported)

REFERENCES_DIR = "references"  # inside the output folder: frames fixed by the artist

ACTIVE: list[Any] = []  # unfinished jobs of this session (ShotJob, gp_job.GPJob), oldest first


def engine_options(prefs: Any | None = None, python: str | None = None) -> dict[str, Any]:
    """Interpreter, model, device, worker processes and DINOv2 weights for a job
    (preferences, else defaults)."""
    from .preferences import engine_python, get_preferences

    if prefs is None:
        prefs = get_preferences()
    weights = None
    if prefs is not None and prefs.dinov2_weights:
        weights = str(bpy.path.abspath(prefs.dinov2_weights))
    return {
        "python": python or engine_python(prefs),
        "model": (prefs.model if prefs else "") or "default",
        "device": prefs.device if prefs else None,
        "workers": int(prefs.workers) if prefs else 1,
        "dinov2_weights": weights,
    }


Finish = Callable[["ShotJob", Any, Any, dict[str, Any]], str]
Keep = Callable[["ShotJob", Any, Any], str]


class ShotJob(modal.JobState):
    """One engine job on one shot: state, progress, and what it did to the sequencer.

    ``state`` goes starting -> running -> done / cancelled / failed; ``error`` is the engine's
    one-line message when it failed; ``message`` a one-line summary for the user. A finish
    step may queue a follow-up request on the same engine (:meth:`then`); ``keep`` shows what
    finished when the job was cancelled or the engine died (e.g. the frames colored so far).
    """

    def __init__(self, kind: str, scene: Any, strip: Any, request: dict[str, Any], python: str,
                 finish: Finish, keep: Keep | None = None) -> None:
        self.kind = kind
        self.scene_name = scene.name
        self.shot_uid = shots.ensure_uid(strip)
        self.shot_name = strip.name
        self.request = request
        self.python = python
        self.state = STARTING
        self.progress: tuple[int, int] = (0, 0)
        self.message = "starting the engine"
        self.error: str | None = None
        self.result: dict[str, Any] | None = None
        self.strip_name: str | None = None  # the strip this job added or updated
        self.client_job: Any = None
        self.on_event: Callable[[ShotJob, dict[str, Any]], None] | None = None  # each engine event
        self._steps: list[tuple[str, dict[str, Any], Finish]] = [(kind, request, finish)]
        self._step: tuple[str, dict[str, Any], Finish] | None = None
        self._main = True  # the current step is the job's own request (not a follow-up)
        self._said: list[str] = []  # summaries of finished steps
        self._keep = keep
        self._cancel_requested = False
        self._start = engine.ClientStart(python)
        ACTIVE.append(self)
        publish(self)

    # -- state ---------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        done, total = self.progress
        return done / total if total else 0.0

    def status_text(self) -> str:
        """One line for the status bar and the panel."""
        done, total = self.progress
        head = f"DACoN {self.kind} '{self.shot_name}'"
        if self.cancelling:
            return f"{head}: cancelling... ({done}/{total} frames done)" if total else \
                f"{head}: cancelling..."
        if self.state == RUNNING and total:
            return f"{head}: {done}/{total} frames"
        return f"{head}: {self.message}"

    def then(self, kind: str, request: dict[str, Any], finish: Finish) -> None:
        """Queue a follow-up engine request, run when this step has finished."""
        self._steps.append((kind, request, finish))

    # -- driving ---------------------------------------------------------------------
    def update(self) -> bool:
        """Advance the job (main thread; never blocks). True once it has ended."""
        if self.done:
            return True
        if self.state == STARTING:
            if not self._start.done:
                return False
            if self._start.error is not None:
                return self._end(FAILED, error=engine.error_message(self._start.error))
            if self._cancel_requested:
                return self._end(CANCELLED, "cancelled before the engine started")
            self.state = RUNNING
            self._next_step()
        while True:
            job = self.client_job
            for ev in job.poll():
                if ev.get("type") == "progress" and self._main:
                    self.progress = (int(ev.get("done", 0)), int(ev.get("total", 0)))
                    if not self._cancel_requested:
                        self.message = f"{self.progress[0]}/{self.progress[1]} frames"
                if self.on_event is not None:
                    self.on_event(self, ev)
            if not job.done:
                publish(self)
                return False
            if job.error is not None:
                return self._stopped(FAILED, engine.error_message(job.error))
            result = dict(job.result or {})
            if self._main:
                self.result = result
                if job.state == "cancelled":
                    return self._stopped(CANCELLED, self._cancelled_text(result))
            step = self._step
            assert step is not None
            try:
                scene, strip = self.shot()
                self._said.append(step[2](self, scene, strip, result))
            except shots.ShotError as ex:
                return self._end(FAILED, error=str(ex))
            if not self._steps or self._cancel_requested:
                text = "; ".join(self._said)
                if self._cancel_requested:
                    text += "; the cancel came after the engine had finished"
                return self._end(DONE, text)
            self._next_step()

    def _next_step(self) -> None:
        self._main = self._step is None
        self._step = self._steps.pop(0)
        kind, request, _finish = self._step
        self.client_job = getattr(self._start.client, kind)(**request)
        self.message = "waiting for the engine" if self._main else f"{kind} after {self.kind}"

    def _cancelled_text(self, result: dict[str, Any]) -> str:
        done = int(result.get("frames_done", self.progress[0]))
        total = int(result.get("frames_selected", self.progress[1]) or self.progress[1])
        return f"cancelled after {done}/{total} frames"

    def _stopped(self, state: str, text: str) -> bool:
        """The job was cancelled or failed: show what finished (``keep``), then end."""
        kept = ""
        if self._keep is not None and self._main:
            try:
                scene, strip = self.shot()
                kept = self._keep(self, scene, strip)
            except shots.ShotError as ex:
                kept = str(ex)
        text = f"{text}; {kept}" if kept else text
        if state == FAILED:
            return self._end(FAILED, error=text)
        return self._end(state, text)

    def cancel(self) -> None:
        """Stop the job: the engine stops between frames (finished frames stay)."""
        if self.done:
            return
        self._cancel_requested = True
        job = self.client_job
        if job is not None and not job.done:
            self.message = "cancelling..."
            try:
                job.cancel()
            except Exception:  # noqa: BLE001 - a dead engine fails the job on its own
                pass
        publish(self)

    def wait(self, timeout: float | None = None, interval: float = 0.05,
             on_update: Callable[["ShotJob"], None] | None = None) -> "ShotJob":
        """Drive the job until it ends (background mode, batch script, tests)."""
        end = None if timeout is None else time.monotonic() + timeout
        last = None
        while not self.update():
            if on_update is not None and (self.state, self.progress) != last:
                last = (self.state, self.progress)
                on_update(self)
            if end is not None and time.monotonic() > end:
                self.cancel()
                raise TimeoutError(f"{self.status_text()}: no end within {timeout} s")
            time.sleep(interval)
        return self

    def shot(self) -> tuple[Any, Any]:
        """The job's scene and shot strip, found again by name and stored id."""
        scene = bpy.data.scenes.get(self.scene_name)
        strip = None if scene is None else shots.find_strip_by_uid(scene, self.shot_uid)
        if strip is None:
            raise shots.ShotError(f"the shot '{self.shot_name}' is gone from scene "
                                  f"'{self.scene_name}'")
        return scene, strip

    def _end(self, state: str, message: str = "", error: str | None = None) -> bool:
        self.state = state
        self.error = error
        self.message = error if error is not None else message
        if self in ACTIVE:
            ACTIVE.remove(self)
        publish(self)
        return True


def publish(job: Any) -> None:
    """Mirror a job (a ShotJob or a GPJob) into ``WindowManager.dacon_job`` (panel, status
    bar) and redraw."""
    wm = getattr(bpy.context, "window_manager", None)
    status = getattr(wm, "dacon_job", None)
    if status is None:
        return
    status.kind = job.kind
    status.shot = job.shot_name
    status.state = job.state
    status.running = not job.done
    status.done, status.total = job.progress
    status.progress = job.fraction if job.state != DONE else 1.0
    status.message = job.message[:1000]
    for window in getattr(wm, "windows", ()):
        for area in window.screen.areas:
            if area.type in ("SEQUENCE_EDITOR", "VIEW_3D"):
                area.tag_redraw()


def job_for(strip: Any) -> ShotJob | None:
    """The unfinished job on this shot strip, or None."""
    uid = strip.dacon.uid
    return next((j for j in ACTIVE if uid and j.shot_uid == uid), None)


def cancel_all() -> int:
    """Cancel every unfinished job; how many there were."""
    jobs = list(ACTIVE)
    for job in jobs:
        job.cancel()
    return len(jobs)


def _refuse_second_job(strip: Any) -> None:
    running = job_for(strip)
    if running is not None:
        raise shots.ShotError(f"shot '{strip.name}' already has a {running.kind} job running")


# --- colorize ------------------------------------------------------------------------------


def start_colorize(scene: Any, strip: Any, *, frames: str | None = None, resume: bool = False,
                   overwrite: bool | None = None, python: str | None = None,
                   prefs: Any | None = None) -> ShotJob:
    """Start colorizing the shot in the engine (ShotError when the shot is not ready).

    ``frames`` ("101-148") limits the job to those line-art frame numbers; ``resume`` keeps
    complete outputs; otherwise existing outputs are replaced (``overwrite``).
    """
    _refuse_second_job(strip)
    request = shots.colorize_request(scene, strip)
    opts = engine_options(prefs, python)
    formats = list(request["formats"])
    if "png" not in formats:  # the result strip shows the PNGs
        formats.insert(0, "png")
    request.update(frames=frames, resume=resume,
                   overwrite=(not resume) if overwrite is None else overwrite,
                   model=opts["model"], device=opts["device"], workers=opts["workers"],
                   dinov2_weights=opts["dinov2_weights"], formats=formats)
    return ShotJob("colorize", scene, strip, request, opts["python"], finish_colorize,
                   keep=keep_colorized)


def finish_colorize(job: ShotJob, scene: Any, strip: Any, result: dict[str, Any]) -> str:
    """Add or update the shot's result strip; a one-line summary.

    A review strip the shot has shows the old results' highlights: the review is made again
    (a follow-up request) and its strip refreshed.
    """
    out = job.request["out"]
    missing = results.missing_frames(strip, out)
    if len(missing) == len(results.frame_stems(strip)[1]):
        raise shots.ShotError(f"the engine wrote no colored frames into {out}")
    made = results.add_result_strip(scene, strip, out)
    job.strip_name = made.name
    kept = f" (kept {result['frames_skipped']})" if result.get("frames_skipped") else ""
    text = (f"colorized {result.get('frames_done', 0)} frames{kept}"
            f" in {float(result.get('seconds', 0.0)):.1f} s -> '{made.name}'")
    if missing:
        text += f"; {len(missing)} frames not colored yet ({missing[0]}...)"
    text += _flat_colors_note(scene)
    if results.review_strip(scene, strip) is not None:
        job.then("review", review_request(strip), refresh_review)
    return text


def keep_colorized(job: ShotJob, scene: Any, strip: Any) -> str:
    """After a cancel or the engine's death: the result strip shows the frames colored so far."""
    out = job.request["out"]
    stems = results.frame_stems(strip)[1]
    missing = results.missing_frames(strip, out)
    if len(missing) == len(set(stems)):
        return "no frame was finished"
    made = results.add_result_strip(scene, strip, out)
    job.strip_name = made.name
    have = len(set(stems)) - len(missing)
    return f"the {have} colored frames of the shot are in '{made.name}'" + _flat_colors_note(scene)


def _flat_colors_note(scene: Any) -> str:
    """Keep the scene's flat colors (when it wants that); what changed, for the summary."""
    changed = flatcolor.keep_if_wanted(scene)
    return f"; to keep flat colors: {', '.join(changed)}" if changed else ""


def refresh_review(job: ShotJob, scene: Any, strip: Any, result: dict[str, Any]) -> str:
    """The review made again after a colorize: refresh its strip, keep the result selected."""
    folder = str(result.get("review_dir") or review_dir(strip))
    results.add_review_strip(scene, strip, folder)
    made = results.result_strip(scene, strip)
    if made is not None:
        for other in compat.all_strips(scene):
            other.select = False
        made.select = True
        compat.set_active_strip(scene, made)
    return "review updated"


def colorize_from_here(scene: Any, strip: Any, frame: int | None = None,
                       **kwargs: Any) -> ShotJob:
    """Re-colorize the shot from ``frame`` (default: the current frame) to its last frame."""
    frame = scene.frame_current if frame is None else int(frame)
    path = shots.frame_file(strip, frame)
    if path is None:
        raise shots.ShotError(f"shot '{strip.name}' shows nothing at frame {frame}")
    first = shots.frame_number(path)
    numbers = [shots.frame_number(p) for _f, p in shots.line_art_files(strip)]
    if first is None or None in numbers:
        raise shots.ShotError(f"'{os.path.basename(path)}': colorizing part of a shot needs "
                              "numbered line-art files (e.g. line_0012.png)")
    last = max(n for n in numbers if n is not None)
    return start_colorize(scene, strip, frames=f"{first}-{max(first, last)}", **kwargs)


# --- recolor -------------------------------------------------------------------------------


def _colored_output(strip: Any) -> str:
    """The output folder of a shot that has been colorized (ShotError otherwise; also when
    a job of the shot is still running)."""
    _refuse_second_job(strip)
    if not shots.is_shot(strip):
        raise shots.ShotError(f"'{strip.name}' is not a DACoN shot")
    out = shots.resolve_output_dir(strip)
    if not os.path.isdir(out):
        raise shots.ShotError(f"shot '{strip.name}' has no results in {out}: colorize it first")
    return out


def start_recolor(scene: Any, strip: Any, *, python: str | None = None,
                  prefs: Any | None = None) -> ShotJob:
    """Rewrite the colored shot with its palette as set now (engine ``recolor``, no model).

    The palette must hold every name the shot's frames use (same names, new values): the
    engine refuses it otherwise, in one line, and writes nothing.
    """
    out = _colored_output(strip)
    palette = shots.palette_path(strip)
    if palette is None:
        raise shots.ShotError(f"shot '{strip.name}' has no palette: choose a palette file or "
                              "a Blender palette to recolor with")
    request = {"out": out, "palette": palette}
    return ShotJob("recolor", scene, strip, request, engine_options(prefs, python)["python"],
                   finish_recolor)


def finish_recolor(job: ShotJob, scene: Any, strip: Any, result: dict[str, Any]) -> str:
    """Show the rewritten files (result strip and open images); a one-line summary."""
    made = results.refresh_result_strip(scene, strip, job.request["out"])
    job.strip_name = made.name
    return (f"recolored {int(result.get('frames', 0))} frames with "
            f"{os.path.basename(job.request['palette'])} -> '{made.name}'")


# --- review --------------------------------------------------------------------------------


def review_dir(strip: Any) -> str:
    """Where the engine writes the shot's review (``<output folder>/review``)."""
    return os.path.join(shots.resolve_output_dir(strip), "review")


def start_review(scene: Any, strip: Any, *, threshold: float | None = None,
                 python: str | None = None, prefs: Any | None = None) -> ShotJob:
    """Highlight low-confidence segments of the colored shot (engine ``review``)."""
    _colored_output(strip)
    return ShotJob("review", scene, strip, review_request(strip, threshold),
                   engine_options(prefs, python)["python"], finish_review)


def review_request(strip: Any, threshold: float | None = None) -> dict[str, Any]:
    """The engine ``review`` request for the shot (its own threshold unless given)."""
    t = float(strip.dacon.review_threshold if threshold is None else threshold)
    return {"out": shots.resolve_output_dir(strip), "threshold": t,
            "review_dir": review_dir(strip)}


def finish_review(job: ShotJob, scene: Any, strip: Any, result: dict[str, Any]) -> str:
    """Add or update the review strip above the result; a one-line summary."""
    folder = str(result.get("review_dir") or job.request["review_dir"])
    made = results.add_review_strip(scene, strip, folder)
    job.strip_name = made.name
    worst = result.get("worst")
    if not worst:
        return f"nothing below {job.request['threshold']:g} -> '{made.name}'"
    entry: dict[str, Any] = next(
        (f for f in result.get("frames", []) if f.get("frame") == worst), {})
    return (f"most to check: {worst} ({100 * float(entry.get('low_fraction', 0)):.1f} % "
            f"below {job.request['threshold']:g}) -> '{made.name}'")


def worst_frame(scene: Any, strip: Any) -> int:
    """The scene frame with the most low-confidence area, from the shot's ``review.json``."""
    path = os.path.join(review_dir(strip), "review.json")
    try:
        with open(path, encoding="utf-8") as f:
            worst = json.load(f).get("worst")
    except FileNotFoundError:
        raise shots.ShotError(f"shot '{strip.name}' has no review yet: run Review first") from None
    except (OSError, ValueError, AttributeError) as ex:
        raise shots.ShotError(f"{path}: not a readable review ({ex})") from None
    if not worst:
        raise shots.ShotError(f"no frame of '{strip.name}' is below the review threshold")
    for frame, file in shots.line_art_files(strip):
        if os.path.splitext(os.path.basename(file))[0] == worst:
            return frame
    raise shots.ShotError(f"the review's worst frame '{worst}' is no longer in the shot")


def jump_to_worst(scene: Any, strip: Any) -> int:
    """Set the current frame to :func:`worst_frame`; returns it."""
    frame = worst_frame(scene, strip)
    scene.frame_set(frame)
    return frame


# --- fix one frame and propagate ---------------------------------------------------------


def _save_if_edited(path: str) -> None:
    """Save the image if it is open in Blender with unsaved paint (Image editor fixes)."""
    target = os.path.normcase(os.path.normpath(path))
    for image in bpy.data.images:
        if not image.filepath or image.packed_file is not None:
            continue
        if os.path.normcase(os.path.normpath(bpy.path.abspath(image.filepath))) != target:
            continue
        if image.is_dirty:
            image.save()


def _stored_path(path: str) -> str:
    if bpy.data.filepath:
        try:
            return str(bpy.path.relpath(path))
        except ValueError:
            return path
    return path


def use_frame_as_reference(scene: Any, strip: Any, frame: int | None = None
                           ) -> tuple[Any, bool]:
    """Make the colored result at ``frame`` (as corrected on disk) a reference sheet of the shot.

    The file is copied to ``<output folder>/references/<stem>.png`` (so later runs, which
    rewrite the result, keep the fix) with that frame's line art as its line. Using the same
    frame again refreshes the copy instead of adding a second sheet. Returns the reference
    and whether it is new (False: an existing sheet was refreshed). Both paths are stored the
    same way: relative to the saved .blend, else absolute.
    """
    frame = scene.frame_current if frame is None else int(frame)
    line = shots.frame_file(strip, frame)
    if line is None:
        raise shots.ShotError(f"shot '{strip.name}' shows nothing at frame {frame}")
    out = shots.resolve_output_dir(strip)
    stem = os.path.splitext(os.path.basename(line))[0]
    colored = os.path.join(out, f"{stem}.png")
    _save_if_edited(colored)
    if not os.path.isfile(colored):
        raise shots.ShotError(f"frame {frame} has no colored image yet ({colored}): "
                              "colorize the shot first")
    dest_dir = os.path.join(out, REFERENCES_DIR)
    os.makedirs(dest_dir, exist_ok=True)
    dest = os.path.join(dest_dir, f"{stem}.png")
    tmp = dest + ".tmp"
    shutil.copyfile(colored, tmp)
    os.replace(tmp, dest)
    color_path, line_path = _stored_path(dest), _stored_path(line)
    shot = shots.make_shot(strip)
    for index, ref in enumerate(shot.references):
        if ref.source == "FILE" and ref.color_path and \
                os.path.normpath(bpy.path.abspath(ref.color_path)) == os.path.normpath(dest):
            ref.color_path, ref.line_path = color_path, line_path
            shot.active_reference = index
            return ref, False
    return shots.add_reference(strip, color_path=color_path, line_path=line_path), True
