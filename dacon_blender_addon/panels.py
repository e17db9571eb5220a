"""The "DACoN" sidebar tab of the sequence editor (drawing only, no logic)."""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, flatcolor, jobs, modal, ops_colorize, ops_shot, previews, shots


class DACON_UL_references(bpy.types.UIList):
    """Reference sheets of a shot, with thumbnails."""

    def draw_item(self, context: Any, layout: Any, data: Any, item: Any, icon: Any,
                  active_data: Any, active_property: Any, index: Any = 0, flt_flag: Any = 0
                  ) -> None:
        thumb = previews.thumbnail_icon(item.color_path)
        if item.source == "STRIP":
            text = f"{item.strip_name} @ {item.frame}"
        else:
            text = bpy.path.basename(item.color_path) or "(no image)"
        if thumb:
            layout.label(text=text, icon_value=thumb)
        else:
            layout.label(text=text, icon="IMAGE_DATA")


def _shot_strip(context: Any) -> Any | None:
    """The active strip's shot (the line art, or the shot of an active result/review strip)."""
    scene = compat.sequencer_scene(context)
    strip = compat.active_strip(scene) if scene else None
    return shots.shot_for(scene, strip) or strip


class _DaconPanel(bpy.types.Panel):
    """Base (not registered): the sequence editor's sidebar tab "DACoN"."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "DACoN"


class DACON_PT_shot(_DaconPanel):
    """Shot settings of the active line-art strip."""

    bl_label = "Shot"

    def draw(self, context: Any) -> None:
        layout: Any = self.layout
        scene = compat.sequencer_scene(context)
        strip = _shot_strip(context)
        if strip is None or not compat.is_image_strip(strip):
            layout.label(text="Select a line-art image strip", icon="INFO")
            return
        if not shots.is_shot(strip):
            layout.label(text=strip.name, icon="SEQUENCE")
            layout.operator(ops_shot.DACON_OT_make_shot.bl_idname, icon="ADD")
            return
        shot = strip.dacon
        layout.label(text=strip.name, icon="SEQUENCE")
        col = layout.column()
        col.prop(shot, "mode")
        matching = col.column(heading="Matching")
        matching.prop(shot, "graph_refine")
        matching.prop(shot, "mirror")
        col.prop(shot, "closeup_views")
        col.prop(shot, "learn_character")
        sub = col.row()
        sub.active = shot.learn_character
        sub.prop(shot, "adapt_seconds")
        col.prop(shot, "gap_radius")
        col.row().prop(shot, "formats")
        col.prop(shot, "output_dir", placeholder=shots.default_output_dir(strip))
        row = col.row()
        row.active = shot.palette_datablock is None  # a Blender palette wins over the file
        row.prop(shot, "palette")
        col.prop(shot, "palette_datablock")


class _ShotSubPanel(_DaconPanel):
    """A sub-panel of the shot panel, shown when a shot strip is active."""

    bl_parent_id = "DACON_PT_shot"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return shots.is_shot(_shot_strip(context))


class DACON_PT_references(_ShotSubPanel):
    """Reference sheets of the active shot."""

    bl_label = "Reference Sheets"

    def draw(self, context: Any) -> None:
        layout: Any = self.layout
        strip: Any = _shot_strip(context)
        shot = strip.dacon
        row = layout.row()
        row.template_list("DACON_UL_references", "", shot, "references", shot, "active_reference",
                          rows=3)
        col = row.column(align=True)
        col.operator(ops_shot.DACON_OT_reference_add_file.bl_idname, text="", icon="FILE_IMAGE")
        col.operator(ops_shot.DACON_OT_reference_add_strip.bl_idname, text="", icon="SEQUENCE")
        col.operator(ops_shot.DACON_OT_reference_remove.bl_idname, text="", icon="REMOVE")
        col.separator()
        col.operator(ops_shot.DACON_OT_reference_move.bl_idname, text="", icon="TRIA_UP").direction = "UP"
        col.operator(ops_shot.DACON_OT_reference_move.bl_idname, text="",
                     icon="TRIA_DOWN").direction = "DOWN"
        if 0 <= shot.active_reference < len(shot.references):
            ref = shot.references[shot.active_reference]
            thumb = previews.thumbnail_icon(ref.color_path)
            if thumb:
                layout.template_icon(icon_value=thumb, scale=6.0)
            box = layout.column()
            if ref.source == "FILE":
                box.prop(ref, "color_path")
            else:
                box.label(text=f"{ref.strip_name}, frame {ref.frame}")
            box.prop(ref, "line_path")


class DACON_PT_colorize(_ShotSubPanel):
    """Colorize the active shot, follow the job, review and fix."""

    bl_label = "Colorize"

    def draw(self, context: Any) -> None:
        layout: Any = self.layout
        strip: Any = _shot_strip(context)
        shot = strip.dacon
        status = getattr(context.window_manager, "dacon_job", None)
        job = jobs.job_for(strip)
        if job is not None:
            modal.draw_job_row(layout, job)
        else:
            layout.operator(ops_colorize.DACON_OT_colorize_shot.bl_idname, icon="BRUSH_DATA")
            if shot.palette or shot.palette_datablock is not None:
                layout.operator(ops_colorize.DACON_OT_recolor_shot.bl_idname, icon="COLOR")
            if status is not None and status.shot == strip.name and status.message:
                icon = "ERROR" if status.state == jobs.FAILED else "INFO"
                layout.label(text=status.message[:120], icon=icon)
        col = layout.column(align=True)
        col.label(text="Review and fix")
        row = col.row(align=True)
        row.prop(shot, "review_threshold", text="Threshold")
        row.operator(ops_colorize.DACON_OT_review_shot.bl_idname, icon="VIEWZOOM")
        col.operator(ops_colorize.DACON_OT_jump_to_worst.bl_idname, icon="NEXT_KEYFRAME")
        col.operator(ops_colorize.DACON_OT_use_frame_as_reference.bl_idname, icon="IMAGE_REFERENCE")
        col.operator(ops_colorize.DACON_OT_colorize_from_here.bl_idname, icon="PLAY")


class DACON_PT_render(_ShotSubPanel):
    """What the render of the shot shows: paper, and color management that keeps flat colors."""

    bl_label = "Render"

    def draw(self, context: Any) -> None:
        layout: Any = self.layout
        scene = compat.sequencer_scene(context)
        strip: Any = _shot_strip(context)
        shot = strip.dacon
        col = layout.column()
        col.prop(shot, "paper")
        if shot.paper == "COLOR":
            col.prop(shot, "paper_color")
        if not shot.transparent_paper and shot.result_uid:
            col.label(text="This line art's paper is opaque: it covers everything", icon="INFO")
        elif shot.paper == "TRANSPARENT" and shot.result_uid:
            col.label(text="Line art muted: the result strip shows it", icon="INFO")
            if not flatcolor.output_has_alpha(scene):
                col.label(text="RGB output shows transparent film as black: use RGBA "
                               "PNG/EXR or a paper", icon="ERROR")
        layout.prop(scene, "dacon_keep_flat_colors")
        problems = flatcolor.problems(scene)
        for text in problems:
            layout.label(text=text, icon="ERROR")
        if problems:
            layout.operator(ops_colorize.DACON_OT_keep_flat_colors.bl_idname, icon="COLOR")
        else:
            layout.label(text="Renders show the engine's colors unchanged", icon="CHECKMARK")


CLASSES = (DACON_UL_references, DACON_PT_shot, DACON_PT_references, DACON_PT_colorize,
           DACON_PT_render)


def register() -> None:
    """Register the sidebar panels."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    """Unregister the sidebar panels."""
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
