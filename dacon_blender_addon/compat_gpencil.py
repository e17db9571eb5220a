"""Grease Pencil API differences between legacy GP (Blender 4.2) and GP v3 (4.3+ / 5.x).

Legacy (4.2): object type ``GPENCIL``, data in ``bpy.data.grease_pencils``, layer name in
``info``, strokes on ``frame.strokes`` (``points.co``, ``line_width`` in pixels, ``use_cyclic``).
GP v3 (4.3+): object type ``GREASEPENCIL``, data in ``bpy.data.grease_pencils_v3`` (4.3/4.4)
or ``bpy.data.grease_pencils`` (4.5+), layer ``name``, strokes are curves of
``frame.drawing`` whose points and curve attributes (``position``, ``radius``, ``cyclic``,
``material_index``, ``fill_opacity``) are set in bulk through ``drawing.attributes``.

Stroke vs fill (5.1+): up to 5.0 the *material* decides whether its strokes draw their
outline and their fill (``MaterialGPencilStyle.show_stroke`` / ``show_fill``). From 5.1 each
*stroke* decides, through two curve attributes: ``fill_id`` (int; 0 = no fill, strokes
sharing a non-zero id form one fill, the inner ones cutting holes) and ``hide_stroke``
(bool; True = no outline), as the brush's Stroke / Fill / Both type and the
``grease_pencil.set_stroke_type`` operator write them; ``fill_opacity`` defaults to 1 there.
``show_stroke``/``show_fill`` are then unused ("kept for compatibility with older versions",
deprecated, to be removed in 6.0) and only warn. :func:`set_material_parts`,
:func:`add_strokes`, :func:`stroke_parts`, :func:`fill_materials`,
:func:`layer_draws_lines` and :func:`hide_fills_settings` hide that difference.
Nothing else in the add-on touches these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bpy

GP_OBJECT_TYPES = ("GREASEPENCIL", "GPENCIL")


def is_v3() -> bool:
    """True on Blender 4.3+ (GP v3 is the only Grease Pencil; 4.3-4.5 still define the
    legacy ``GPencilStroke`` type for file conversion, so the version decides)."""
    return bool(bpy.app.version >= (4, 3, 0))


def per_stroke_fill() -> bool:
    """True on Blender 5.1+: each stroke says whether it shows its fill (``fill_id``) and its
    outline (``hide_stroke``); the material's ``show_fill``/``show_stroke`` are unused."""
    return bool(bpy.app.version >= (5, 1, 0))


def is_gp_object(obj: Any) -> bool:
    """True for a Grease Pencil object of either kind."""
    return obj is not None and getattr(obj, "type", "") in GP_OBJECT_TYPES


def gp_collection() -> Any:
    """``bpy.data`` collection of this version's Grease Pencil data blocks."""
    v3 = getattr(bpy.data, "grease_pencils_v3", None)  # 4.3/4.4: the legacy one stays beside
    return v3 if v3 is not None else bpy.data.grease_pencils


def new_gp_object(name: str, collection: Any) -> Any:
    """A new, empty Grease Pencil object linked into ``collection``."""
    data = gp_collection().new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    return obj


# --- layers ---------------------------------------------------------------------------


def layer_name(layer: Any) -> str:
    """A layer's name (``name`` in v3, ``info`` in legacy GP)."""
    return str(layer.name if hasattr(layer, "name") else layer.info)


def find_layer(gp: Any, name: str) -> Any | None:
    """The layer of ``gp`` called ``name``, or None."""
    for layer in gp.layers:
        if layer_name(layer) == name:
            return layer
    return None


def new_layer(gp: Any, name: str) -> Any:
    """A new layer (on top); its lights are off so fills show their flat color."""
    layer = gp.layers.new(name)
    if hasattr(layer, "use_lights"):
        layer.use_lights = False
    return layer


def layer_index(gp: Any, layer: Any) -> int:
    """Position of ``layer`` in the stack, 0 = bottom."""
    for i, other in enumerate(gp.layers):
        if layer_name(other) == layer_name(layer):
            return i
    raise ValueError(f"no layer {layer_name(layer)!r}")


def move_layer_below(gp: Any, layer: Any, ref: Any) -> None:
    """Move ``layer`` just below ``ref`` (drawn before it, so ``ref`` stays on top)."""
    for _ in range(len(gp.layers)):
        if layer_index(gp, layer) < layer_index(gp, ref):
            break
        if is_v3():
            gp.layers.move(layer, "DOWN")
        else:
            gp.layers.move(layer, type="DOWN")
    while layer_index(gp, ref) - layer_index(gp, layer) > 1:
        if is_v3():
            gp.layers.move(layer, "UP")
        else:
            gp.layers.move(layer, type="UP")


def remove_layer(gp: Any, layer: Any) -> None:
    """Delete ``layer`` and its frames."""
    gp.layers.remove(layer)


def frame_numbers(layer: Any) -> list[int]:
    """Scene frames where ``layer`` has a key (a drawing starts), sorted."""
    return sorted({int(f.frame_number) for f in layer.frames})


def new_frame(layer: Any, number: int) -> Any:
    """A new, empty key of ``layer`` at ``number``."""
    return layer.frames.new(int(number))


def frame_at(layer: Any, number: int) -> Any | None:
    """The key of ``layer`` exactly at ``number``, or None."""
    for f in layer.frames:
        if int(f.frame_number) == int(number):
            return f
    return None


# --- strokes --------------------------------------------------------------------------


def add_strokes(frame: Any, strokes: Sequence[tuple[Sequence[Sequence[float]], int]], *,
                radius: float = 0.002, line_width: int = 1, fill: bool = True) -> None:
    """Append closed strokes to a key: each ``(points (k x 3, layer space), material_index)``.

    v3: one ``add_strokes`` call and bulk attribute writes (fast for hundreds of strokes).
    ``radius`` (v3, world units) / ``line_width`` (legacy, px) are the outline's width.
    ``fill``: fill strokes. Up to 5.0 their material decides what shows (see
    :func:`set_material_parts`); 5.1+ gives each its own ``fill_id`` (after the ids already
    in the key) and ``hide_stroke`` (a flat fill, no outline); ``fill=False`` strokes get
    neither there (outline only).
    """
    if not strokes:
        return
    if is_v3():
        drawing = frame.drawing
        first_point = len(drawing.attributes["position"].data) if "position" in \
            drawing.attributes else 0
        first_curve = len(drawing.strokes)
        drawing.add_strokes([len(pts) for pts, _m in strokes])
        flat = [c for pts, _m in strokes for p in pts for c in (p[0], p[1], p[2])]
        _set_attribute(drawing, "position", "FLOAT_VECTOR", "POINT", "vector", flat,
                       first_point)
        npts = len(flat) // 3
        _set_attribute(drawing, "radius", "FLOAT", "POINT", "value", [radius] * npts,
                       first_point)
        n = len(strokes)
        _set_attribute(drawing, "cyclic", "BOOLEAN", "CURVE", "value", [True] * n, first_curve)
        _set_attribute(drawing, "material_index", "INT", "CURVE", "value",
                       [int(m) for _p, m in strokes], first_curve)
        _set_attribute(drawing, "fill_opacity", "FLOAT", "CURVE", "value",
                       [1.0 if fill else 0.0] * n, first_curve)
        if per_stroke_fill():
            first_id = max(_curve_values(drawing, "fill_id", first_curve), default=0) + 1
            ids = list(range(first_id, first_id + n)) if fill else [0] * n
            _set_attribute(drawing, "fill_id", "INT", "CURVE", "value", ids, first_curve)
            _set_attribute(drawing, "hide_stroke", "BOOLEAN", "CURVE", "value", [fill] * n,
                           first_curve)
        drawing.tag_positions_changed()
        return
    for pts, mat in strokes:
        stroke = frame.strokes.new()
        stroke.points.add(len(pts))
        stroke.points.foreach_set("co", [c for p in pts for c in (p[0], p[1], p[2])])
        stroke.use_cyclic = True
        stroke.material_index = int(mat)
        stroke.line_width = int(line_width)


def _curve_values(drawing: Any, name: str, count: int | None = None) -> list:
    """Values of a v3 curve attribute (``count`` first curves; [] when it does not exist)."""
    attr = drawing.attributes.get(name)
    if attr is None or attr.domain != "CURVE":
        return []
    size = len(attr.data)
    values = [False] * size if attr.data_type == "BOOLEAN" else [0] * size
    attr.data.foreach_get("value", values)
    return values if count is None else values[:count]


def _set_attribute(drawing: Any, name: str, data_type: str, domain: str, key: str,
                   values: list, start: int) -> None:
    attrs = drawing.attributes
    attr = attrs.get(name)
    if attr is None:
        attr = attrs.new(name, data_type, domain)
    size = len(attr.data)
    width = 3 if key == "vector" else 1
    if start == 0 and len(values) == size * width:
        attr.data.foreach_set(key, values)
        return
    current = [0.0] * (size * width) if data_type != "BOOLEAN" else [False] * size
    attr.data.foreach_get(key, current)
    current[start * width:start * width + len(values)] = values
    attr.data.foreach_set(key, current)


def draw_lines(frame: Any, strokes: Sequence[tuple[Sequence[Sequence[float]], float, int]]
               ) -> None:
    """Append closed line strokes ``(points, width in world units, material_index)``.

    For tests and benchmarks: v3 sets ``radius`` = width / 2; legacy sets ``line_width``
    (px) = width * 1000, which draws the same width in world space.
    """
    if is_v3():
        drawing = frame.drawing
        base = len(drawing.strokes)
        drawing.add_strokes([len(pts) for pts, _w, _m in strokes])
        for stroke, (pts, width, mat) in zip(list(drawing.strokes)[base:], strokes):
            stroke.cyclic = True
            stroke.material_index = int(mat)
            for point, co in zip(stroke.points, pts):
                point.position = tuple(co)
                point.radius = width / 2.0
        return
    for pts, width, mat in strokes:
        stroke = frame.strokes.new()
        stroke.points.add(len(pts))
        stroke.points.foreach_set("co", [c for p in pts for c in (p[0], p[1], p[2])])
        stroke.use_cyclic = True
        stroke.material_index = int(mat)
        stroke.line_width = max(1, round(width * 1000))


def stroke_count(frame: Any) -> int:
    """Strokes in a key."""
    return len(frame.drawing.strokes) if is_v3() else len(frame.strokes)


def stroke_materials(frame: Any) -> list[int]:
    """Material index of each stroke of a key, in drawing order."""
    if is_v3():
        drawing = frame.drawing
        return [int(m) for m in _curve_values(drawing, "material_index")] or \
            [0] * len(drawing.strokes)
    return [int(s.material_index) for s in frame.strokes]


# --- stroke / fill visibility ---------------------------------------------------------


def set_material_parts(style: Any, *, stroke: bool, fill: bool) -> None:
    """Make a GP material (``mat.grease_pencil``) draw its strokes' outline and/or fill.

    Up to 5.0 that is the material's ``show_stroke``/``show_fill``; 5.1+ decides per stroke
    (:func:`add_strokes`, :func:`draw_lines`) and the material has nothing to set.
    """
    if per_stroke_fill():
        return
    style.show_stroke = bool(stroke)
    style.show_fill = bool(fill)


def stroke_parts(obj: Any, frame: Any) -> list[tuple[bool, bool]]:
    """(shows its fill, shows its outline) of each stroke of a key of ``obj``, in order.

    Up to 5.0 the stroke's material says (``show_fill``/``show_stroke``; a stroke without a
    valid material counts as an outline only); 5.1+ the stroke itself (``fill_id`` != 0,
    not ``hide_stroke``).
    """
    if per_stroke_fill():
        drawing = frame.drawing
        n = len(drawing.strokes)
        fills = _curve_values(drawing, "fill_id") or [0] * n
        hidden = _curve_values(drawing, "hide_stroke") or [False] * n
        return [(f != 0, not h) for f, h in zip(fills, hidden)]
    mats = obj.data.materials
    parts = [(bool(m.grease_pencil.show_fill), bool(m.grease_pencil.show_stroke))
             if m is not None and m.grease_pencil is not None else (False, True) for m in mats]
    return [parts[i] if 0 <= i < len(parts) else (False, True)
            for i in stroke_materials(frame)]


def fill_materials(obj: Any) -> set[int]:
    """Slots of the object's materials that draw fills.

    Up to 5.0: those with ``show_fill``. 5.1+: those used by some stroke with a fill.
    """
    mats = obj.data.materials
    if per_stroke_fill():
        return {i for layer in obj.data.layers for f in layer.frames
                for i, (fill, _line) in zip(stroke_materials(f), stroke_parts(obj, f))
                if fill and 0 <= i < len(mats)}
    return {i for i, m in enumerate(mats)
            if m is not None and m.grease_pencil is not None and m.grease_pencil.show_fill}


def layer_draws_lines(obj: Any, layer: Any) -> bool:
    """True when some stroke of ``layer`` (any key) shows its outline (:func:`stroke_parts`)."""
    return any(line for f in layer.frames for _fill, line in stroke_parts(obj, f))


def hide_fills_settings(style: Any) -> list[tuple[Any, str, Any]]:
    """(owner, attribute, value) that stop a GP material's fills from rendering.

    Up to 5.0: ``show_fill`` off. 5.1+ (fills are per stroke): a fully transparent fill
    color, holdout off (the stroke outlines render as before).
    """
    if per_stroke_fill():
        return [(style, "fill_color", (0.0, 0.0, 0.0, 0.0)), (style, "use_fill_holdout", False)]
    return [(style, "show_fill", False)]


def use_material_nodes(mat: Any) -> None:
    """Give a (mesh) material its node tree: 5.x always has one (``use_nodes`` is deprecated)."""
    if mat.node_tree is None or bpy.app.version < (5, 0, 0):
        mat.use_nodes = True


# --- render settings ------------------------------------------------------------------


def gp_antialias_settings(scene: Any) -> list[tuple[Any, str, Any]]:
    """(owner, attribute, value) that turn Grease Pencil anti-aliasing off in renders.

    4.2 has ``antialias_threshold`` (SMAA); 5.x adds ``antialias_threshold_render``.
    """
    gps = scene.grease_pencil_settings
    out: list[tuple[Any, str, Any]] = [(gps, "antialias_threshold", 0.0)]
    if hasattr(gps, "antialias_threshold_render"):
        out.append((gps, "antialias_threshold_render", 0.0))
    return out
