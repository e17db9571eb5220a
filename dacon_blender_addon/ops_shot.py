"""Operators on a shot's settings: thin wrappers around :mod:`shots` functions.

Each acts on the strip named by its ``strip`` property, or on the active strip when empty.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, shots
from .compat import OperatorResult
from .preferences import get_preferences


def _target(op: Any, context: Any) -> Any:
    scene = compat.sequencer_scene(context)
    if op.strip:
        strip = compat.find_strip(scene, op.strip)
        if strip is None:
            raise shots.ShotError(f"no strip named '{op.strip}'")
        return strip
    strip = compat.active_strip(scene)
    if strip is None:
        raise shots.ShotError("select the line-art image strip first")
    return shots.shot_for(scene, strip) or strip  # a result/review strip stands for its shot


class _ShotOperator(bpy.types.Operator):
    """Base (not registered): resolve the target strip, run :meth:`run`, turn ShotError into a report."""

    strip: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Strip", description="Shot strip (empty: the active strip)", options={"SKIP_SAVE"})

    def run(self, context: Any, strip: Any) -> None:
        raise NotImplementedError

    def execute(self, context: Any) -> OperatorResult:
        try:
            self.run(context, _target(self, context))
        except shots.ShotError as ex:
            self.report({"ERROR"}, str(ex))
            return {"CANCELLED"}
        return {"FINISHED"}


class DACON_OT_make_shot(_ShotOperator):
    """Mark the image strip as a DACoN shot (line art to colorize)"""

    bl_idname = "dacon.make_shot"
    bl_label = "Make DACoN Shot"
    bl_options = {"REGISTER", "UNDO"}

    def run(self, context: Any, strip: Any) -> None:
        prefs = get_preferences(context)
        shots.make_shot(strip, formats=prefs.default_formats if prefs else None)


class DACON_OT_reference_add_file(_ShotOperator):
    """Add a colored image file as a reference sheet"""

    bl_idname = "dacon.reference_add_file"
    bl_label = "Add Reference Image"
    bl_options = {"REGISTER", "UNDO"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    line_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Line Art", subtype="FILE_PATH", options=compat.path_options(),
        description="Optional line art of the reference")
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    relative_path: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Relative Path", default=True, description="Store the path relative to the .blend")

    def invoke(self, context: Any, event: Any) -> OperatorResult:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def run(self, context: Any, strip: Any) -> None:
        if not self.filepath:
            raise shots.ShotError("choose a colored image")
        def stored(path: str) -> str:  # both paths alike: relative to the .blend, or absolute
            if not path or path.startswith("//"):
                return path
            if self.relative_path and bpy.data.filepath:
                try:
                    return str(bpy.path.relpath(path))
                except ValueError:  # another drive (Windows)
                    return path
            return path

        shots.add_reference(strip, color_path=stored(self.filepath),
                            line_path=stored(self.line_path))


class DACON_OT_reference_add_strip(_ShotOperator):
    """Add the current frame of another selected image strip as a reference sheet"""

    bl_idname = "dacon.reference_add_strip"
    bl_label = "Add Reference from Strip"
    bl_options = {"REGISTER", "UNDO"}

    source: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Source Strip", description="Colored strip (empty: the other selected image strip)",
        options={"SKIP_SAVE"})
    frame: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Frame", description="Scene frame (-1: the current frame)", default=-1,
        options={"SKIP_SAVE"})

    def run(self, context: Any, strip: Any) -> None:
        scene = compat.sequencer_scene(context)
        if self.source:
            source = compat.find_strip(scene, self.source)
        else:
            source = next((s for s in compat.top_strips(scene) if s.select and s != strip
                           and compat.is_image_strip(s)), None)
        if source is None:
            raise shots.ShotError("select a colored image strip besides the shot")
        frame = scene.frame_current if self.frame < 0 else self.frame
        shots.add_reference(strip, source_strip=source, frame=frame)


class DACON_OT_reference_remove(_ShotOperator):
    """Remove the active reference sheet"""

    bl_idname = "dacon.reference_remove"
    bl_label = "Remove Reference"
    bl_options = {"REGISTER", "UNDO"}

    index: bpy.props.IntProperty(default=-1, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def run(self, context: Any, strip: Any) -> None:
        index = self.index if self.index >= 0 else strip.dacon.active_reference
        shots.remove_reference(strip, index)


class DACON_OT_reference_move(_ShotOperator):
    """Move the active reference sheet up or down"""

    bl_idname = "dacon.reference_move"
    bl_label = "Move Reference"
    bl_options = {"REGISTER", "UNDO"}

    direction: bpy.props.EnumProperty(  # type: ignore[valid-type]
        items=(("UP", "Up", ""), ("DOWN", "Down", "")), default="UP")

    def run(self, context: Any, strip: Any) -> None:
        shot = strip.dacon
        shots.move_reference(strip, shot.active_reference, -1 if self.direction == "UP" else 1)


CLASSES = (
    DACON_OT_make_shot,
    DACON_OT_reference_add_file,
    DACON_OT_reference_add_strip,
    DACON_OT_reference_remove,
    DACON_OT_reference_move,
)


def register() -> None:
    """Register the operators."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    """Unregister the operators."""
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
