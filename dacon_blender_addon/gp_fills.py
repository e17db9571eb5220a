"""Write the engine's traced segments back as fill strokes on a "DACoN fills" layer.

One fill stroke per colored segment (a holdout stroke per hole that shows the paper), one key
per rendered frame, the layer below every line layer, the outlines projected from the camera
onto the object's drawing plane. numpy is imported where it is used, never at module import.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import compat_gpencil as cg
from .gp_camera import pixels_to_object
from .gp_frames import FILL_LAYER, FramePlan, GPError, frame_stem
from .gp_materials import fill_material, hex_color, hole_material, material_slot, palette_names

if TYPE_CHECKING:
    import numpy as np


def remove_fills(obj: Any) -> bool:
    """Delete the object's "DACoN fills" layer; True when there was one."""
    layer = cg.find_layer(obj.data, FILL_LAYER)
    if layer is None:
        return False
    cg.remove_layer(obj.data, layer)
    return True


def read_trace(trace_dir: str | os.PathLike, frame: int) -> dict:
    """The engine's ``<stem>.trace.json`` of a rendered frame."""
    path = Path(trace_dir) / f"{frame_stem(frame)}.trace.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as ex:
        raise GPError(f"cannot read the traced fills of frame {frame} ({path}): {ex}") from ex


def write_fills(scene: Any, obj: Any, plan: FramePlan, trace_dir: str | os.PathLike) -> dict:
    """Replace the object's fills layer with one fill stroke per colored segment.

    One key per rendered frame (held over its exposure like the drawing), strokes in the
    engine's painting order (containers first), a holdout stroke after a segment for each
    of its holes that shows the paper. Returns {"strokes", "holes", "materials", "seconds"}.
    """
    import numpy as np

    t0 = time.perf_counter()
    gp = obj.data
    remove_fills(obj)
    others = list(gp.layers)
    layer = cg.new_layer(gp, FILL_LAYER)
    if others:
        cg.move_layer_below(gp, layer, others[0])  # under every line layer
    names = palette_names(obj)
    slots: dict[str, int] = {}
    hole_slot = -1
    n_strokes = n_holes = 0
    old_frame = scene.frame_current
    try:
        for f in plan.rendered:
            doc = read_trace(trace_dir, f)
            scene.frame_set(f)  # the camera and object as they were rendered
            strokes: list[tuple[int, np.ndarray]] = []
            for seg in doc["segments"]:
                color = seg["color"]
                key = hex_color(color) + ("" if color[3] == 255 else f"{color[3]:02x}")
                if key not in slots:
                    name = names.get(hex_color(color), key)
                    slots[key] = material_slot(obj, fill_material(color, name))
                for poly in seg["polygons"]:
                    strokes.append((slots[key], np.asarray(poly["outer"], np.float64)))
                    n_strokes += 1
                    for hole in poly["holes"]:
                        if hole["clear"]:
                            if hole_slot < 0:
                                hole_slot = material_slot(obj, hole_material())
                            strokes.append((hole_slot, np.asarray(hole["points"], np.float64)))
                            n_holes += 1
            frame = cg.new_frame(layer, f)
            if not strokes:
                continue
            sizes = [len(p) for _m, p in strokes]
            pts = pixels_to_object(scene, obj, np.concatenate([p for _m, p in strokes]),
                                   int(doc["width"]), int(doc["height"]))
            bounds = np.cumsum([0, *sizes])
            cg.add_strokes(frame, [(pts[a:b].tolist(), m) for (m, _p), a, b
                                   in zip(strokes, bounds[:-1], bounds[1:])])
    finally:
        scene.frame_set(old_frame)
    return {"strokes": n_strokes, "holes": n_holes, "materials": len(slots),
            "seconds": time.perf_counter() - t0}
