"""Blender 4.2 vs 5.x API differences, in one place.

4.2 calls sequencer strips ``Sequence`` and keeps them in ``SequenceEditor.sequences``;
5.0 renamed them ``Strip`` / ``strips`` (the old names are gone) and added
``context.sequencer_scene``. Nothing else in the add-on may touch these names. Palette
colors changed meaning too (sRGB in 4.x, scene linear in 5.x: :func:`palette_color_srgb`).
"""

from __future__ import annotations

from typing import Any, Literal

import bpy
import mathutils


# What Operator.execute/invoke/modal return.
OperatorResult = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]


def strip_type() -> Any:
    """The RNA base class of sequencer strips (``Strip`` in 5.x, ``Sequence`` in 4.2)."""
    strip = getattr(bpy.types, "Strip", None)
    return strip if strip is not None else getattr(bpy.types, "Sequence")


def path_options() -> set[str]:
    """``options`` for file/folder StringProperties that accept ``//`` (blend-relative) paths.

    5.0 warns when ``//`` is assigned to a path property lacking PATH_SUPPORTS_BLEND_RELATIVE;
    4.2 has no such option (and accepts ``//`` everywhere).
    """
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties:
        return {"PATH_SUPPORTS_BLEND_RELATIVE"}
    return set()


def sequencer_scene(context: Any) -> Any:
    """The scene the sequence editor shows: ``context.sequencer_scene`` (5.x) or ``context.scene``."""
    return getattr(context, "sequencer_scene", None) or context.scene


def top_strips(scene: Any) -> Any:
    """Top-level strips of ``scene`` (an RNA collection); empty tuple without a sequence editor."""
    editor = scene.sequence_editor
    if editor is None:
        return ()
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(scene: Any) -> Any:
    """Every strip of ``scene``, inside meta strips too."""
    editor = scene.sequence_editor
    if editor is None:
        return ()
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def _container(scene: Any, strip: Any) -> Any:
    """The collection holding ``strip``: its meta strip's, or the top level."""
    parent = strip.parent_meta()
    if parent is None:
        return top_strips(scene)
    return parent.strips if hasattr(parent, "strips") else parent.sequences


def sibling_strips(scene: Any, strip: Any) -> list[Any]:
    """The other strips in ``strip``'s channel space: its meta strip's, or the top level."""
    return [s for s in _container(scene, strip) if s != strip]


def ensure_top_strips(scene: Any) -> Any:
    """Like :func:`top_strips` but creates the sequence editor when missing."""
    scene.sequence_editor_create()
    return top_strips(scene)


def active_strip(scene: Any) -> Any | None:
    """The active strip of ``scene``'s sequence editor, or None."""
    editor = scene.sequence_editor
    return None if editor is None else editor.active_strip


def set_active_strip(scene: Any, strip: Any) -> None:
    """Make ``strip`` the active strip of ``scene``."""
    scene.sequence_editor_create().active_strip = strip


def find_strip(scene: Any, name: str) -> Any | None:
    """The strip called ``name`` (at any depth), or None."""
    for strip in all_strips(scene):
        if strip.name == name:
            return strip
    return None


def strip_range(strip: Any) -> tuple[int, int]:
    """Scene frames ``[start, end)`` the strip shows (5.2 renamed frame_final_* to *_handle)."""
    if hasattr(strip, "left_handle"):
        return int(strip.left_handle), int(strip.right_handle)
    return int(strip.frame_final_start), int(strip.frame_final_end)


def move_strip(strip: Any, frame: int) -> None:
    """Move the strip so its content starts at scene ``frame`` (5.2: ``content_start``)."""
    if hasattr(strip, "content_start"):
        strip.content_start = frame
    else:
        strip.frame_start = frame


def is_image_strip(strip: Any) -> bool:
    """True for image (sequence) strips, the only kind that can hold line art."""
    return strip is not None and getattr(strip, "type", "") == "IMAGE"


def palette_color_srgb(color: Any) -> tuple[float, float, float]:
    """A ``PaletteColor``'s value as display sRGB floats (0-1).

    4.x stores palette colors as sRGB (RNA subtype ``COLOR_GAMMA``: the stored floats are
    what the color picker shows); 5.0 stores them scene linear (subtype ``COLOR``), which
    Blender's own color management converts back (``Color.from_scene_linear_to_srgb``,
    following the file's working space).
    """
    rgb = mathutils.Color(tuple(color.color)[:3])
    prop = bpy.types.PaletteColor.bl_rna.properties["color"]
    if prop.subtype != "COLOR_GAMMA":
        rgb = rgb.from_scene_linear_to_srgb()
    return float(rgb.r), float(rgb.g), float(rgb.b)


def new_color_strip(coll: Any, name: str, channel: int, start: int, end: int) -> Any:
    """A COLOR effect strip over scene frames ``[start, end)`` (4.2: ``frame_end``, 5.x:
    ``length``)."""
    params = coll.bl_rna.functions["new_effect"].parameters
    if "length" in params:
        return coll.new_effect(name=name, type="COLOR", channel=channel, frame_start=start,
                               length=end - start)
    return coll.new_effect(name=name, type="COLOR", channel=channel, frame_start=start,
                           frame_end=end)


def remove_strip(scene: Any, strip: Any) -> None:
    """Delete ``strip`` from ``scene`` (top level or inside a meta strip)."""
    _container(scene, strip).remove(strip)
