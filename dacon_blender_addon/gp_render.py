"""Render a Grease Pencil object's frames to PNG: flat black line art, or a colored reference.

Workbench on a transparent film, anti-aliasing off, exact colors, every other object (and our
fills layer) hidden; :func:`overridden` restores every setting it touched afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import bpy

from . import compat_gpencil as cg
from .gp_camera import check_camera
from .gp_frames import FILL_LAYER, GPError, frame_stem


@contextlib.contextmanager
def overridden(items: Sequence[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set ``owner.attr = value`` for each item; restore every old value on exit."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for owner, attr, value in items:
            old = getattr(owner, attr)
            if hasattr(old, "__len__") and not isinstance(old, str):
                old = tuple(old)
            saved.append((owner, attr, old))
            setattr(owner, attr, value)
        yield
    finally:
        for owner, attr, old in reversed(saved):
            setattr(owner, attr, old)


def render_settings(scene: Any, percentage: int = 0) -> list[tuple[Any, str, Any]]:
    """Workbench, transparent film, no anti-aliasing, exact colors, 8-bit RGBA PNG."""
    r = scene.render
    items: list[tuple[Any, str, Any]] = [
        (r, "engine", "BLENDER_WORKBENCH"),
        (r, "film_transparent", True),
        (r, "filter_size", 0.0),
        (r, "use_sequencer", False),
        (r, "use_compositing", False),
        (r, "use_stamp", False),
        (scene.display, "render_aa", "OFF"),
        (scene.view_settings, "view_transform", "Standard"),
        (scene.view_settings, "look", "None"),
        (scene.view_settings, "exposure", 0.0),
        (scene.view_settings, "gamma", 1.0),
        (scene.view_settings, "use_curve_mapping", False),
        (r.image_settings, "file_format", "PNG"),
        (r.image_settings, "color_mode", "RGBA"),
        (r.image_settings, "color_depth", "8"),
    ]
    items += cg.gp_antialias_settings(scene)
    if percentage:
        items.append((r, "resolution_percentage", int(percentage)))
    return items


def _isolate(scene: Any, obj: Any) -> list[tuple[Any, str, Any]]:
    """Hide every other object (and our fills layer) from the render."""
    items: list[tuple[Any, str, Any]] = [(o, "hide_render", True) for o in scene.objects
                                         if o != obj and o != scene.camera and not o.hide_render]
    fills = cg.find_layer(obj.data, FILL_LAYER)
    if fills is not None:
        items.append((fills, "hide", True))
    return items


def _flat_black(obj: Any) -> list[tuple[Any, str, Any]]:
    """Every stroke flat opaque black, no fills, no tint, full layer opacity."""
    items: list[tuple[Any, str, Any]] = []
    for mat in {m for m in obj.data.materials if m is not None}:
        style = mat.grease_pencil
        if style is None:
            continue
        items += [(style, "color", (0.0, 0.0, 0.0, 1.0)), *cg.hide_fills_settings(style),
                  (style, "stroke_style", "SOLID"), (style, "use_stroke_holdout", False)]
    for layer in obj.data.layers:
        items += [(layer, "opacity", 1.0), (layer, "tint_factor", 0.0)]
        if hasattr(layer, "vertex_paint_opacity"):
            items.append((layer, "vertex_paint_opacity", 0.0))
    return items


def _flat_colors(obj: Any) -> list[tuple[Any, str, Any]]:
    """Layers unlit so material colors render exactly (a hand-filled reference frame)."""
    return [(layer, "use_lights", False) for layer in obj.data.layers
            if hasattr(layer, "use_lights")]


def _render_frames(scene: Any, frames: Sequence[int], out_dir: Path) -> list[tuple[int, Path]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    old_frame = scene.frame_current
    done = []
    try:
        with overridden([(scene.render, "filepath", scene.render.filepath)]):
            for f in frames:
                scene.frame_set(f)
                path = out_dir / f"{frame_stem(f)}.png"
                scene.render.filepath = str(path)
                bpy.ops.render.render(write_still=True, scene=scene.name)
                if not path.is_file():
                    raise GPError(f"rendering frame {f} wrote no {path}")
                done.append((f, path))
    finally:
        scene.frame_set(old_frame)
    return done


def render_line_art(scene: Any, obj: Any, frames: Sequence[int], out_dir: str | os.PathLike,
                    percentage: int = 0) -> list[tuple[int, Path]]:
    """Render the object's strokes as flat black line art, one PNG per frame."""
    if not cg.is_gp_object(obj):
        raise GPError(f"'{getattr(obj, 'name', obj)}' is not a Grease Pencil object")
    check_camera(scene)
    with overridden(render_settings(scene, percentage) + _isolate(scene, obj)
                    + _flat_black(obj)):
        return _render_frames(scene, frames, Path(out_dir))


def render_reference(scene: Any, obj: Any, frame: int, out_dir: str | os.PathLike,
                     percentage: int = 0) -> dict[str, str]:
    """A frame the artist filled by hand, as a reference sheet: colored render + its line art.

    Returns ``{"color": path, "line": path}`` (files ``ref_<frame>.png``/``ref_<frame>_line.png``).
    """
    check_camera(scene)
    out = Path(out_dir)
    with overridden(render_settings(scene, percentage) + _isolate(scene, obj)
                    + _flat_colors(obj)):
        (_f, color), = _render_frames(scene, [frame], out / "color")
    (_f, line), = render_line_art(scene, obj, [frame], out / "line", percentage)
    dest_c, dest_l = out / f"ref_{frame_stem(frame)}.png", out / f"ref_{frame_stem(frame)}_line.png"
    os.replace(color, dest_c)
    os.replace(line, dest_l)
    return {"color": str(dest_c), "line": str(dest_l)}
