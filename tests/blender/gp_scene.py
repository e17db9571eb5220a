"""Build a small Grease Pencil animation from code (tests and scripts/bench_gpencil.py).

Closed shapes drawn as black line strokes on the object's X-Z plane, seen by an orthographic
camera looking along +Y; frame 1 is also "filled by hand" on a "Hand fills" layer (fill
strokes with one material per part color) and serves as the reference sheet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bpy

from dacon_blender_addon import compat_gpencil as cg

ORTHO_SCALE = 4.0  # world units across the camera's width


@dataclass
class Part:
    """One closed shape: outline points (x, z) at frame 1, fill color (sRGB uint8), width."""

    name: str
    outline: list[tuple[float, float]]
    color: tuple[int, int, int]
    width: float = 0.05


def circle(cx: float, cz: float, r: float, n: int = 40) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(2 * math.pi * i / n), cz + r * math.sin(2 * math.pi * i / n))
            for i in range(n)]


def ellipse(cx: float, cz: float, rx: float, rz: float, n: int = 40
            ) -> list[tuple[float, float]]:
    return [(cx + rx * math.cos(2 * math.pi * i / n), cz + rz * math.sin(2 * math.pi * i / n))
            for i in range(n)]


def rect(x0: float, z0: float, x1: float, z1: float) -> list[tuple[float, float]]:
    return [(x0, z0), (x1, z0), (x1, z1), (x0, z1)]


def small_face() -> list[Part]:
    """A face holding two eyes (holes in the face), and a separate square: 4 shapes."""
    return [
        Part("Face", circle(-0.4, 0.0, 1.1), (230, 180, 140), 0.06),
        Part("Eye L", circle(-0.8, 0.25, 0.25), (40, 90, 200), 0.04),
        Part("Eye R", circle(-0.05, 0.25, 0.25), (40, 160, 60), 0.04),
        Part("Box", rect(1.0, -0.6, 1.6, 0.4), (200, 40, 40), 0.05),
    ]


def character() -> list[Part]:
    """A closed-shape character of 12 parts, strokes of varying thickness (fits the frame)."""
    parts = [
        Part("Body", ellipse(0.0, -0.35, 0.55, 0.6), (60, 110, 200), 0.05),
        Part("Head", circle(0.0, 0.75, 0.42), (240, 200, 160), 0.06),
        Part("Eye L", circle(-0.16, 0.82, 0.09, 24), (255, 255, 255), 0.025),
        Part("Eye R", circle(0.16, 0.82, 0.09, 24), (255, 255, 255), 0.025),
        Part("Mouth", ellipse(0.0, 0.55, 0.14, 0.06, 24), (200, 60, 70), 0.03),
        Part("Belt", rect(-0.4, -0.45, 0.4, -0.3), (90, 60, 30), 0.035),
        Part("Arm L", ellipse(-0.85, -0.2, 0.22, 0.4), (240, 200, 160), 0.045),
        Part("Arm R", ellipse(0.85, -0.2, 0.22, 0.4), (240, 200, 160), 0.045),
        Part("Leg L", rect(-0.42, -1.45, -0.12, -1.02), (50, 50, 90), 0.05),
        Part("Leg R", rect(0.12, -1.45, 0.42, -1.02), (50, 50, 90), 0.05),
        Part("Hat", [(-0.35, 1.1), (0.35, 1.1), (0.0, 1.55)], (230, 60, 150), 0.07),
        Part("Button", circle(0.0, -0.05, 0.08, 20), (250, 220, 40), 0.03),
    ]
    for p in parts:
        p.outline = [(x * 0.85, z * 0.85 - 0.03) for x, z in p.outline]
    return parts


def make_scene(parts: Sequence[Part], *, frames: int = 3, size: tuple[int, int] = (128, 96),
               step: tuple[float, float] = (0.12, 0.0), hold: int = 1,
               camera_pan: float = 0.0) -> tuple[Any, Any]:
    """Scene with an ortho camera and a GP object "Character" animated over ``frames``.

    Each key moves the drawing by ``step`` (x, z); ``hold`` > 1 draws on twos/threes (one
    key every ``hold`` frames). ``camera_pan`` moves the camera in x per frame (keyed).
    Returns (scene, object). Frame 1 is filled by hand on the "Hand fills" layer (empty
    key at frame 2, so later frames show no hand fills).
    """
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, frames
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = ORTHO_SCALE
    cam = bpy.data.objects.new("Camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -10.0, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = cam
    if camera_pan:
        for f in range(1, frames + 1):
            cam.location.x = camera_pan * (f - 1)
            cam.keyframe_insert("location", index=0, frame=f)
    obj = cg.new_gp_object("Character", scene.collection)
    gp = obj.data
    line_mat = bpy.data.materials.new("Line")
    bpy.data.materials.create_gpencil_data(line_mat)
    line_mat.grease_pencil.color = (0.0, 0.0, 0.0, 1.0)
    cg.set_material_parts(line_mat.grease_pencil, stroke=True, fill=False)
    gp.materials.append(line_mat)
    fill_slots = []
    for part in parts:
        mat = bpy.data.materials.get(f"Paint {part.name}")
        if mat is None:
            mat = bpy.data.materials.new(f"Paint {part.name}")
            bpy.data.materials.create_gpencil_data(mat)
        style = mat.grease_pencil
        cg.set_material_parts(style, stroke=False, fill=True)  # 5.1+: per stroke instead
        style.fill_color = (*[_lin(c / 255) for c in part.color], 1.0)
        gp.materials.append(mat)
        fill_slots.append(len(gp.materials) - 1)
    hand = cg.new_layer(gp, "Hand fills")
    lines = cg.new_layer(gp, "Lines")
    for f in range(1, frames + 1, max(1, hold)):
        k = (f - 1)
        dx, dz = step[0] * k, step[1] * k
        strokes = [([(x + dx, 0.0, z + dz) for x, z in p.outline], p.width, 0) for p in parts]
        cg.draw_lines(cg.new_frame(lines, f), strokes)
    # the artist's fills of frame 1: biggest first so inner parts paint over their container
    order = sorted(range(len(parts)), key=lambda i: -_area(parts[i].outline))
    cg.add_strokes(cg.new_frame(hand, 1),
                   [([(x, 0.0, z) for x, z in parts[i].outline], fill_slots[i]) for i in order])
    if frames > 1:
        cg.new_frame(hand, 2)
    return scene, obj


def fill_line_strokes(obj: Any, rgba: tuple[float, float, float, float]) -> None:
    """Make every stroke of the "Lines" layer show a fill of ``rgba`` (linear) too.

    Up to 5.0 through the "Line" material (``show_fill``); 5.1+ per stroke (``fill_id``).
    """
    style = obj.data.materials["Line"].grease_pencil
    style.fill_color = rgba
    cg.set_material_parts(style, stroke=True, fill=True)
    if cg.per_stroke_fill():
        for frame in cg.find_layer(obj.data, "Lines").frames:
            drawing = frame.drawing
            attr = drawing.attributes.get("fill_id") or drawing.attributes.new(
                "fill_id", "INT", "CURVE")
            attr.data.foreach_set("value", list(range(1, len(drawing.strokes) + 1)))


def part_centers(parts: Sequence[Part], frame: int, size: tuple[int, int],
                 step: tuple[float, float] = (0.12, 0.0), hold: int = 1,
                 camera_pan: float = 0.0) -> list[tuple[int, int]]:
    """Pixel (x, y) of a point inside each part at ``frame`` that no smaller part covers."""
    w, h = size
    key = 1 + ((frame - 1) // max(1, hold)) * max(1, hold)
    dx, dz = step[0] * (key - 1), step[1] * (key - 1)
    cam_x = camera_pan * (frame - 1)
    scale = w / ORTHO_SCALE
    out = []
    for i, part in enumerate(parts):
        x, z = _inside_point(part, [p for p in parts if _area(p.outline) < _area(part.outline)])
        out.append((int((x + dx - cam_x) * scale + w / 2), int(h / 2 - (z + dz) * scale)))
    return out


def _inside_point(part: Part, smaller: Sequence[Part]) -> tuple[float, float]:
    xs = [p[0] for p in part.outline]
    zs = [p[1] for p in part.outline]
    best, best_d = (sum(xs) / len(xs), sum(zs) / len(zs)), -1.0
    for i in range(1, 12):
        for j in range(1, 12):
            x = min(xs) + (max(xs) - min(xs)) * i / 12
            z = min(zs) + (max(zs) - min(zs)) * j / 12
            if not _inside(part.outline, x, z) or any(_inside(s.outline, x, z) for s in smaller):
                continue
            d = min(_edge_distance(o.outline, x, z) for o in [part, *smaller])
            if d > best_d:
                best, best_d = (x, z), d
    return best


def _inside(poly: Sequence[tuple[float, float]], x: float, z: float) -> bool:
    inside = False
    for (x0, z0), (x1, z1) in zip(poly, [*poly[1:], poly[0]]):
        if (z0 > z) != (z1 > z) and x < x0 + (z - z0) * (x1 - x0) / (z1 - z0):
            inside = not inside
    return inside


def _edge_distance(poly: Sequence[tuple[float, float]], x: float, z: float) -> float:
    best = math.inf
    for (x0, z0), (x1, z1) in zip(poly, [*poly[1:], poly[0]]):
        vx, vz = x1 - x0, z1 - z0
        t = max(0.0, min(1.0, ((x - x0) * vx + (z - z0) * vz) / max(vx * vx + vz * vz, 1e-12)))
        best = min(best, math.hypot(x - x0 - t * vx, z - z0 - t * vz))
    return best


def _area(poly: Sequence[tuple[float, float]]) -> float:
    return abs(sum(x0 * z1 - x1 * z0 for (x0, z0), (x1, z1) in zip(poly, [*poly[1:], poly[0]])))


def _lin(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def read_png(path: str) -> Any:
    """An 8-bit PNG as an (H, W, 4) uint8 numpy array, row 0 at the top."""
    import numpy as np

    img = bpy.data.images.load(str(path))
    try:
        w, h = img.size
        px = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return np.round(px.reshape(h, w, 4)[::-1] * 255).astype(np.uint8)
