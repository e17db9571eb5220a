"""Grease Pencil fill materials for result colors, and the sRGB maths they need.

One flat fill material per color (``DACoN <name>``, named after the artist's matching fill
material when there is one), a holdout material for holes that show the paper, and
:func:`material_slot` to give them a slot on the object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bpy

from . import compat_gpencil as cg

MATERIAL_PREFIX = "DACoN "
HOLE_MATERIAL = "DACoN hole"
COLOR_KEY = "dacon_fill_color"    # custom property on our fill materials: "#rrggbb" (+ alpha)


def srgb_to_linear(c: float) -> float:
    """One sRGB channel (0..1) to linear, as Blender's "sRGB" colorspace decodes it."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def linear_to_srgb(c: float) -> float:
    """One linear channel (0..1) to sRGB."""
    c = min(max(c, 0.0), 1.0)
    return c * 12.92 if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def hex_color(rgba: Sequence[int]) -> str:
    """``#rrggbb`` of an sRGB uint8 color (alpha dropped)."""
    return "#{:02x}{:02x}{:02x}".format(*[int(v) for v in rgba[:3]])


def palette_names(obj: Any) -> dict[str, str]:
    """``#rrggbb`` -> material name for the fill colors of the object's own materials.

    A result color that matches an artist's fill material takes its name ("DACoN Skin").
    """
    names: dict[str, str] = {}
    fills = cg.fill_materials(obj)
    for i, mat in enumerate(obj.data.materials):
        style = getattr(mat, "grease_pencil", None) if mat is not None else None
        if style is None or i not in fills or COLOR_KEY in mat:
            continue
        rgb = [round(linear_to_srgb(v) * 255) for v in style.fill_color[:3]]
        names.setdefault(hex_color(rgb), mat.name)
    return names


def fill_material(rgba: Sequence[int], name: str) -> Any:
    """Our flat fill material for an sRGB uint8 color, reused when it already exists."""
    key = hex_color(rgba) + ("" if int(rgba[3]) == 255 else f"{int(rgba[3]):02x}")
    full = f"{MATERIAL_PREFIX}{name}"
    mat = bpy.data.materials.get(full)
    if mat is None or mat.get(COLOR_KEY) != key or mat.grease_pencil is None:
        mat = bpy.data.materials.new(full)
        bpy.data.materials.create_gpencil_data(mat)
    mat[COLOR_KEY] = key
    style: Any = mat.grease_pencil
    cg.set_material_parts(style, stroke=False, fill=True)
    style.fill_style = "SOLID"
    style.fill_color = (*[srgb_to_linear(int(v) / 255.0) for v in rgba[:3]], int(rgba[3]) / 255.0)
    style.use_fill_holdout = False
    return mat


def hole_material() -> Any:
    """The holdout fill material that cuts holes out of the fills below it."""
    mat = bpy.data.materials.get(HOLE_MATERIAL)
    if mat is None or mat.grease_pencil is None:
        mat = bpy.data.materials.new(HOLE_MATERIAL)
        bpy.data.materials.create_gpencil_data(mat)
    mat[COLOR_KEY] = "hole"
    style: Any = mat.grease_pencil
    cg.set_material_parts(style, stroke=False, fill=True)
    style.fill_color = (0.0, 0.0, 0.0, 1.0)
    style.use_fill_holdout = True
    return mat


def material_slot(obj: Any, mat: Any) -> int:
    """Index of ``mat`` among the object's materials, appended when missing."""
    mats = obj.data.materials
    for i, m in enumerate(mats):
        if m == mat:
            return i
    mats.append(mat)
    return len(mats) - 1
