"""Grease Pencil colorization: settings on the object, thin operators, a 3D-view panel.

The work is done by the ``gp_*`` modules' functions driven by :class:`gp_job.GPJob`; these
operators only resolve the active object and the engine interpreter, follow the job (modal from
the UI: one step per timer tick, Esc or the panel's cancel button stops it) and report in one
line.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, compat_gpencil, gp_job, jobs, modal
from .compat import OperatorResult
from .gp_colorize import clear_results
from .gp_frames import GPError
from .preferences import engine_python, get_preferences

SOURCES = (
    ("FRAME", "Filled Frame", "A frame of this object that you filled by hand (rendered)"),
    ("FILE", "File", "A colored image with matching line art"),
)
FRAME_MODES = (
    ("ALL", "Every Frame", "Render and colorize every frame of the scene range"),
    ("KEYS", "Keys Only", "Only frames where a drawing starts; colors hold over its exposure"),
)


class DaconGPReference(bpy.types.PropertyGroup):
    """One reference sheet of a Grease Pencil object."""

    source: bpy.props.EnumProperty(name="Source", items=SOURCES, default="FRAME")  # type: ignore[valid-type]
    frame: bpy.props.IntProperty(name="Frame", description="Frame you filled by hand")  # type: ignore[valid-type]
    color_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Colored Image", subtype="FILE_PATH", options=compat.path_options())
    line_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Line Art", subtype="FILE_PATH", options=compat.path_options(),
        description="Line art of the colored image (otherwise taken from it)")


class DaconGPShot(bpy.types.PropertyGroup):
    """Colorization settings of one Grease Pencil object."""

    references: bpy.props.CollectionProperty(type=DaconGPReference)  # type: ignore[valid-type]
    active_reference: bpy.props.IntProperty(name="Active Reference", min=0)  # type: ignore[valid-type]
    frames: bpy.props.EnumProperty(name="Frames", items=FRAME_MODES, default="ALL")  # type: ignore[valid-type]
    gap_radius: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Gap Radius", min=0, soft_max=8, max=64, default=0,
        description="Close gaps in the rendered line art up to this many pixels")
    resolution_percentage: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Resolution %", min=0, max=400, default=0, subtype="PERCENTAGE",
        description="Render the line art at this share of the scene resolution (0: the scene's)")
    epsilon: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Outline Tolerance", min=0.0, soft_max=3.0, default=0.5,
        description="How far (px) a fill outline may stray from the segment's edge")
    write_fills: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Fill Strokes", default=True,
        description="One fill stroke per segment on a 'DACoN fills' layer below the lines")
    write_plane: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Image Plane", default=False,
        description="The colored frames on an image-sequence plane behind the object")
    output_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Folder", subtype="DIR_PATH", options=compat.path_options(),
        description="Where renders and colored frames go. Empty: //dacon/gp/<object name>/")


def _active_gp(context: Any) -> Any:
    obj = context.active_object
    if not compat_gpencil.is_gp_object(obj):
        raise GPError("select a Grease Pencil object first")
    return obj


def _poll_gp(context: Any) -> bool:
    return compat_gpencil.is_gp_object(getattr(context, "active_object", None))


class DACON_OT_gp_colorize(modal.ModalJobOperator, bpy.types.Operator):
    """Render the Grease Pencil line art, colorize it in the engine and write the fills back"""

    bl_idname = "dacon.gp_colorize"
    bl_label = "Colorize Grease Pencil"
    bl_options = {"REGISTER", "UNDO"}
    timer_interval = 0.1

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_gp(context)

    def _begin(self, context: Any) -> gp_job.GPJob | None:
        try:
            obj = _active_gp(context)
            # the session's engine: started once, model kept loaded between jobs
            return gp_job.start(context.scene, obj,
                                python=engine_python(get_preferences(context)))
        except GPError as ex:
            self.report({"ERROR"}, str(ex))
            return None

    def _ended(self, job: gp_job.GPJob) -> OperatorResult:
        if job.state == jobs.DONE:
            self.report({"INFO"}, job.message)
            return {"FINISHED"}
        self.report({"WARNING"} if job.state == jobs.CANCELLED else {"ERROR"}, job.message)
        return {"CANCELLED"}


class DACON_OT_gp_clear(bpy.types.Operator):
    """Remove this object's DACoN fills layer and image plane"""

    bl_idname = "dacon.gp_clear"
    bl_label = "Remove DACoN Fills"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_gp(context)

    def execute(self, context: Any) -> OperatorResult:
        clear_results(context.active_object)
        return {"FINISHED"}


class DACON_OT_gp_reference_add(bpy.types.Operator):
    """Add a reference sheet: the current frame (filled by hand), or a colored image file"""

    bl_idname = "dacon.gp_reference_add"
    bl_label = "Add Reference"
    bl_options = {"REGISTER", "UNDO"}

    source: bpy.props.EnumProperty(name="Source", items=SOURCES, default="FRAME")  # type: ignore[valid-type]
    frame: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Frame", default=-1, description="-1: the current frame", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_gp(context)

    def execute(self, context: Any) -> OperatorResult:
        settings = context.active_object.dacon_gp
        ref = settings.references.add()
        ref.source = self.source
        ref.frame = context.scene.frame_current if self.frame < 0 else self.frame
        settings.active_reference = len(settings.references) - 1
        return {"FINISHED"}


class DACON_OT_gp_reference_remove(bpy.types.Operator):
    """Remove the active reference sheet"""

    bl_idname = "dacon.gp_reference_remove"
    bl_label = "Remove Reference"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_gp(context) and len(context.active_object.dacon_gp.references) > 0

    def execute(self, context: Any) -> OperatorResult:
        settings = context.active_object.dacon_gp
        settings.references.remove(settings.active_reference)
        settings.active_reference = max(0, min(settings.active_reference,
                                               len(settings.references) - 1))
        return {"FINISHED"}


class DACON_UL_gp_references(bpy.types.UIList):
    """Reference sheets of a Grease Pencil object."""

    def draw_item(self, context: Any, layout: Any, data: Any, item: Any, icon: Any,
                  active_data: Any, active_propname: Any, index: Any = 0, flt_flag: Any = 0
                  ) -> None:
        if item.source == "FRAME":
            layout.label(text=f"Frame {item.frame}", icon="GREASEPENCIL")
        else:
            layout.label(text=bpy.path.basename(item.color_path) or "(no image)", icon="IMAGE")


class DACON_PT_gpencil(bpy.types.Panel):
    """DACoN settings of the active Grease Pencil object (3D view sidebar)."""

    bl_label = "DACoN Grease Pencil"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DACoN"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_gp(context)

    def draw(self, context: Any) -> None:
        settings = context.active_object.dacon_gp
        layout: Any = self.layout
        row = layout.row()
        row.template_list("DACON_UL_gp_references", "", settings, "references", settings,
                          "active_reference", rows=2)
        col = row.column(align=True)
        col.operator(DACON_OT_gp_reference_add.bl_idname, text="", icon="ADD")
        col.operator(DACON_OT_gp_reference_remove.bl_idname, text="", icon="REMOVE")
        if 0 <= settings.active_reference < len(settings.references):
            ref = settings.references[settings.active_reference]
            box = layout.box()
            box.prop(ref, "source")
            if ref.source == "FRAME":
                box.prop(ref, "frame")
            else:
                box.prop(ref, "color_path")
                box.prop(ref, "line_path")
        col = layout.column()
        col.prop(settings, "frames")
        col.prop(settings, "gap_radius")
        col.prop(settings, "resolution_percentage")
        col.prop(settings, "epsilon")
        row = col.row(align=True)
        row.prop(settings, "write_fills", toggle=True)
        row.prop(settings, "write_plane", toggle=True)
        col.prop(settings, "output_dir")
        job = gp_job.job_for(context.active_object)
        if job is not None:
            modal.draw_job_row(layout, job)
        else:
            layout.operator(DACON_OT_gp_colorize.bl_idname, icon="BRUSH_DATA")
            status = getattr(context.window_manager, "dacon_job", None)
            if status is not None and status.kind == gp_job.KIND and \
                    status.shot == context.active_object.name and status.message:
                icon = "ERROR" if status.state == jobs.FAILED else "INFO"
                layout.label(text=status.message[:120], icon=icon)
        layout.operator(DACON_OT_gp_clear.bl_idname, icon="TRASH")


CLASSES = (DaconGPReference, DaconGPShot, DACON_OT_gp_colorize, DACON_OT_gp_clear,
           DACON_OT_gp_reference_add, DACON_OT_gp_reference_remove, DACON_UL_gp_references,
           DACON_PT_gpencil)


def register() -> None:
    """Register the classes and attach ``dacon_gp`` to objects."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Object.dacon_gp = bpy.props.PointerProperty(type=DaconGPShot)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    """Detach ``dacon_gp`` and unregister (stored settings stay in .blend files)."""
    try:
        del bpy.types.Object.dacon_gp  # type: ignore[attr-defined]
    except AttributeError:
        pass
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
