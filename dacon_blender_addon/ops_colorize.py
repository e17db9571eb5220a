"""Colorize, recolor, review and fix operators: thin wrappers around :mod:`jobs`.

Engine jobs run modal when invoked from the UI (a 0.2 s timer calls ``ShotJob.update``; Esc
or the panel's Cancel button stops the job; the status bar shows progress) and to the end when
executed from a script or in background mode. Each acts on the shot named by ``strip``, or on
the active strip's shot (the line art itself, or its result or review strip).
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, flatcolor, jobs, modal, shots
from .compat import OperatorResult


def _shot(op: Any, context: Any) -> tuple[Any, Any]:
    scene = compat.sequencer_scene(context)
    if op.strip:
        strip = compat.find_strip(scene, op.strip)
        if strip is None:
            raise shots.ShotError(f"no strip named '{op.strip}'")
    else:
        strip = compat.active_strip(scene)
        if strip is None:
            raise shots.ShotError("select the shot's line-art strip first")
    shot = shots.shot_for(scene, strip)
    if shot is None:
        raise shots.ShotError(f"'{strip.name}' is not a DACoN shot (Make DACoN Shot first)")
    return scene, shot


class _JobOperator(modal.ModalJobOperator, bpy.types.Operator):
    """Base (not registered): start a :class:`jobs.ShotJob`, then follow it to its end."""

    strip: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Strip", description="Shot strip (empty: the active strip's shot)",
        options={"SKIP_SAVE"})

    def start(self, context: Any, scene: Any, shot: Any) -> jobs.ShotJob:
        raise NotImplementedError

    def _begin(self, context: Any) -> jobs.ShotJob | None:
        try:
            scene, shot = _shot(self, context)
            return self.start(context, scene, shot)
        except shots.ShotError as ex:
            self.report({"ERROR"}, str(ex))
            return None

    def _ended(self, job: jobs.ShotJob) -> OperatorResult:
        if job.state == jobs.DONE:
            self.report({"INFO"}, job.status_text())
            return {"FINISHED"}
        if job.state == jobs.CANCELLED:
            self.report({"WARNING"}, job.status_text())
            return {"CANCELLED"}
        self.report({"ERROR"}, f"DACoN {job.kind} '{job.shot_name}' failed: {job.error}")
        return {"CANCELLED"}


class DACON_OT_colorize_shot(_JobOperator):
    """Colorize every frame of the shot in the engine; the result appears as a strip above it"""

    bl_idname = "dacon.colorize_shot"
    bl_label = "Colorize Shot"

    def start(self, context: Any, scene: Any, shot: Any) -> jobs.ShotJob:
        return jobs.start_colorize(scene, shot)


class DACON_OT_colorize_from_here(_JobOperator):
    """Colorize the shot again from the current frame to its end (with the current references)"""

    bl_idname = "dacon.colorize_from_here"
    bl_label = "Colorize from Here"

    def start(self, context: Any, scene: Any, shot: Any) -> jobs.ShotJob:
        return jobs.colorize_from_here(scene, shot)


class DACON_OT_recolor_shot(_JobOperator):
    """Rewrite the colored frames with the shot's palette as set now (same names, no model)"""

    bl_idname = "dacon.recolor_shot"
    bl_label = "Recolor with Palette"

    def start(self, context: Any, scene: Any, shot: Any) -> jobs.ShotJob:
        return jobs.start_recolor(scene, shot)


class DACON_OT_review_shot(_JobOperator):
    """Highlight segments colored with low confidence, as a strip above the result"""

    bl_idname = "dacon.review_shot"
    bl_label = "Review"

    def start(self, context: Any, scene: Any, shot: Any) -> jobs.ShotJob:
        return jobs.start_review(scene, shot)


class DACON_OT_cancel_job(bpy.types.Operator):
    """Stop the running DACoN job (frames already colored stay)"""

    bl_idname = "dacon.cancel_job"
    bl_label = "Cancel"

    def execute(self, context: Any) -> OperatorResult:
        if not jobs.cancel_all():
            self.report({"INFO"}, "no DACoN job is running")
        return {"FINISHED"}


class _ShotOperator(bpy.types.Operator):
    """Base (not registered): a quick action on a shot; ShotError becomes a report."""

    strip: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Strip", description="Shot strip (empty: the active strip's shot)",
        options={"SKIP_SAVE"})

    def run(self, context: Any, scene: Any, shot: Any) -> str:
        raise NotImplementedError

    def execute(self, context: Any) -> OperatorResult:
        try:
            scene, shot = _shot(self, context)
            self.report({"INFO"}, self.run(context, scene, shot))
        except shots.ShotError as ex:
            self.report({"ERROR"}, str(ex))
            return {"CANCELLED"}
        return {"FINISHED"}


class DACON_OT_jump_to_worst(_ShotOperator):
    """Go to the frame with the most low-confidence area (after Review)"""

    bl_idname = "dacon.jump_to_worst"
    bl_label = "Jump to Worst Frame"

    def run(self, context: Any, scene: Any, shot: Any) -> str:
        return f"frame {jobs.jump_to_worst(scene, shot)} has the most to check"


class DACON_OT_use_frame_as_reference(_ShotOperator):
    """Use the current frame's colored image (as fixed on disk) as a reference sheet of the shot"""

    bl_idname = "dacon.use_frame_as_reference"
    bl_label = "Use Frame as Reference"
    bl_options = {"REGISTER", "UNDO"}

    def run(self, context: Any, scene: Any, shot: Any) -> str:
        ref, added = jobs.use_frame_as_reference(scene, shot)
        return (f"reference sheet {bpy.path.basename(ref.color_path)} "
                f"{'added to' if added else 'refreshed in'} '{shot.name}'")


class DACON_OT_keep_flat_colors(bpy.types.Operator):
    """Set this scene's color management so renders show the engine's colors unchanged
(Standard view, no look, exposure 0, gamma 1, no curves, sRGB display and sequencer)"""

    bl_idname = "dacon.keep_flat_colors"
    bl_label = "Keep Flat Colors"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: Any) -> OperatorResult:
        changed = flatcolor.keep_flat_colors(compat.sequencer_scene(context))
        self.report({"INFO"}, "; ".join(changed) if changed else "flat colors already kept")
        return {"FINISHED"}


CLASSES = (
    DACON_OT_keep_flat_colors,
    DACON_OT_colorize_shot,
    DACON_OT_colorize_from_here,
    DACON_OT_recolor_shot,
    DACON_OT_review_shot,
    DACON_OT_cancel_job,
    DACON_OT_jump_to_worst,
    DACON_OT_use_frame_as_reference,
)


def register() -> None:
    """Register the operators."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    """Cancel running jobs and unregister."""
    jobs.cancel_all()
    jobs.ACTIVE.clear()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
