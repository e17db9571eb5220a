"""Colorize a Grease Pencil animation: plain functions (operators and tests call these).

1. :func:`render_line_art` renders the object's strokes per frame from the active camera with
   Workbench on a transparent film, anti-aliasing off, every stroke flat black, fills and
   other objects hidden (every setting it touches is restored afterwards).
2. :func:`run_engine` colorizes those frames in the engine (``dacon_engine.client``; PNG, JSON
   and EXR with segment ids) and traces each colored segment's outline (``trace`` request).
3. :func:`write_fills` puts one fill stroke per segment on a "DACoN fills" layer below the
   lines (one material per color, a holdout stroke per hole that shows the paper), projected
   from the camera onto the object's drawing plane; :func:`write_plane` puts the colored
   frames on an image-sequence plane behind the object, parented to the camera.

Re-running replaces the object's previous fills layer and plane, nothing else.
Never imports torch: the engine runs in its own interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from . import compat_gpencil as cg

FILL_LAYER = "DACoN fills"
MATERIAL_PREFIX = "DACoN "
HOLE_MATERIAL = "DACoN hole"
PLANE_PREFIX = "DACoN plane "
OWNER_KEY = "dacon_gp_owner"      # custom property: name of the GP object a plane belongs to
COLOR_KEY = "dacon_fill_color"    # custom property on our fill materials: "#rrggbb" (+ alpha)
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class GPError(Exception):
    """The object cannot be colorized as asked; the message is meant for the user."""


# --- colors ---------------------------------------------------------------------------


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


# --- frames ---------------------------------------------------------------------------


@dataclass
class FramePlan:
    """Which frames to render, and which rendered frame each scene frame shows.

    ``shows[f]`` is the rendered frame whose colors scene frame ``f`` shows (itself, or
    with keys only the frame its drawing's key starts at: colors hold over the exposure).
    """

    rendered: list[int]
    shows: dict[int, int] = field(default_factory=dict)

    @property
    def frames(self) -> list[int]:
        """Every scene frame that shows a result, in order."""
        return sorted(self.shows)


def line_layers(obj: Any) -> list[Any]:
    """The object's visible layers that draw lines (not fills only), without our fills layer.

    A layer whose strokes are all fills without an outline (fill-only materials up to 5.0,
    ``hide_stroke`` strokes from 5.1; e.g. the artist's hand fills of the reference frame)
    does not decide where drawings start.
    """
    return [layer for layer in obj.data.layers
            if cg.layer_name(layer) != FILL_LAYER and not layer.hide
            and cg.layer_draws_lines(obj, layer)]


def plan_frames(scene: Any, obj: Any, keys_only: bool = False,
                frame_range: tuple[int, int] | None = None) -> FramePlan:
    """Frames of ``frame_range`` (default: the scene's) to render and to show results on.

    ``keys_only``: only frames where some line layer has a key (animation on twos or
    threes); each drawing's colors are held until the next key.
    """
    start, end = frame_range or (int(scene.frame_start), int(scene.frame_end))
    if end < start:
        raise GPError(f"empty frame range {start}-{end}")
    if not keys_only:
        frames = list(range(start, end + 1))
        return FramePlan(frames, {f: f for f in frames})
    keys = sorted({k for layer in line_layers(obj) for k in cg.frame_numbers(layer)})
    shows: dict[int, int] = {}
    for f in range(start, end + 1):
        held = [k for k in keys if k <= f]
        if held:
            shows[f] = max(held[-1], start)
    if not shows:
        raise GPError(f"'{obj.name}' has no drawing in frames {start}-{end}")
    return FramePlan(sorted(set(shows.values())), shows)


def frame_stem(frame: int) -> str:
    """File stem of a frame (``0007``; negative frames keep their sign)."""
    return f"{frame:04d}" if frame >= 0 else f"-{-frame:04d}"


# --- rendering ------------------------------------------------------------------------


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


def check_camera(scene: Any) -> Any:
    """The scene's active camera (GPError without one)."""
    if scene.camera is None:
        raise GPError("the scene has no active camera to render the line art from")
    return scene.camera


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


# --- engine ---------------------------------------------------------------------------


def run_engine(targets: Sequence[str | os.PathLike], references: Sequence[dict],
               out: str | os.PathLike, *, python: str = "", client: Any = None,
               gap_radius: int = 0, epsilon: float = 0.5, timeout: float = 3600.0) -> dict:
    """Colorize ``targets`` (PNG, JSON and EXR) and trace their segments, in the engine.

    Uses ``client`` (a started ``dacon_engine.client.EngineClient``) or starts one with
    ``python`` for this call. Returns {"colorize": result, "trace": result, "seconds": {...}}.
    """
    from . import engine

    if not references:
        raise GPError("add a reference sheet first (a frame you filled, or a colored image)")
    own = client is None
    if own:
        if not python:
            raise GPError("no engine interpreter is set (Preferences > Add-ons > DACoN)")
        client = engine.client_module().EngineClient(python)
        client.start()
    try:
        t0 = time.perf_counter()
        result = client.colorize(
            targets=[os.fspath(t) for t in targets],
            references=[{"color": r["color"], "line": r.get("line")} for r in references],
            out=os.fspath(out), formats=("png", "json", "exr"), gap_radius=int(gap_radius),
            overwrite=True).wait(timeout)
        t1 = time.perf_counter()
        traced = client.trace(out, epsilon=epsilon,
                              frames=[Path(t).stem for t in targets]).wait(timeout)
        t2 = time.perf_counter()
    finally:
        if own:
            client.shutdown()
    return {"colorize": result, "trace": traced,
            "seconds": {"colorize": t1 - t0, "trace": t2 - t1}}


# --- projection -----------------------------------------------------------------------


def _matrix(m: Any) -> np.ndarray:
    return np.array([list(row) for row in m], np.float64)


def pixels_to_object(scene: Any, obj: Any, uv: np.ndarray, width: int, height: int
                     ) -> np.ndarray:
    """Pixel coordinates (N x 2, x right, y down) -> object-space points on its drawing plane.

    The drawing plane is the object's local X-Z plane (Grease Pencil's default "Front"
    plane); each pixel's camera ray is intersected with it (the camera as at the scene's
    current frame). Rays nearly parallel to it hit the camera-facing plane through the
    object's origin instead.
    """
    cam = check_camera(scene)
    corners = np.array([list(c) for c in cam.data.view_frame(scene=scene)], np.float64)
    xmin, xmax = corners[:, 0].min(), corners[:, 0].max()
    ymin, ymax = corners[:, 1].min(), corners[:, 1].max()
    z = corners[0, 2]
    s = uv[:, 0] / float(width)
    t = 1.0 - uv[:, 1] / float(height)
    x = xmin + s * (xmax - xmin)
    y = ymin + t * (ymax - ymin)
    n = len(uv)
    cm = _matrix(cam.matrix_world)
    if cam.data.type == "ORTHO":
        o_local = np.column_stack([x, y, np.zeros(n), np.ones(n)])
        d_local = np.tile([0.0, 0.0, -1.0], (n, 1))
    else:
        o_local = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
        d_local = np.column_stack([x, y, np.full(n, z)])
    origins = o_local @ cm.T
    origins = origins[:, :3] / origins[:, 3:4]
    dirs = d_local @ cm[:3, :3].T
    om = _matrix(obj.matrix_world)
    p0 = om[:3, 3]
    normal = om[:3, :3] @ np.array([0.0, 1.0, 0.0])
    view = cm[:3, :3] @ np.array([0.0, 0.0, -1.0])
    if np.linalg.norm(normal) < 1e-12 or abs(np.dot(_unit(normal), _unit(view))) < 0.05:
        normal = view
    normal = _unit(normal)
    denom = dirs @ normal
    denom = np.where(np.abs(denom) < 1e-12, 1e-12, denom)
    tt = ((p0 - origins) @ normal) / denom
    world = origins + dirs * tt[:, None]
    local = np.column_stack([world, np.ones(n)]) @ np.linalg.inv(om).T
    return local[:, :3]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


# --- write back: vector fills ---------------------------------------------------------


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


# --- write back: raster plane ---------------------------------------------------------


def find_plane(obj: Any) -> Any | None:
    """The image-sequence plane made for ``obj`` by :func:`write_plane`, or None."""
    for o in bpy.data.objects:
        props: Any = o
        if o.type == "MESH" and props.get(OWNER_KEY) == obj.name:
            return o
    return None


def remove_plane(obj: Any) -> bool:
    """Delete the object's plane (its mesh, material and image too); True when there was one."""
    plane = find_plane(obj)
    if plane is None:
        return False
    mesh = plane.data
    mats = [m for m in mesh.materials if m is not None]
    images = [n.image for m in mats if m.node_tree for n in m.node_tree.nodes
              if getattr(n, "image", None) is not None]
    bpy.data.objects.remove(plane)
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    for m in mats:
        if m.users == 0:
            bpy.data.materials.remove(m)
    for img in images:
        if img.users == 0:
            bpy.data.images.remove(img)
    return True


def sequence_files(plan: FramePlan, color_dir: str | os.PathLike, plane_dir: str | os.PathLike
                   ) -> list[Path]:
    """One colored PNG per shown scene frame in ``plane_dir`` (held frames linked/copied)."""
    src, dst = Path(color_dir), Path(plane_dir)
    if dst.is_dir():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    out = []
    for f in plan.frames:
        a = src / f"{frame_stem(plan.shows[f])}.png"
        b = dst / f"{frame_stem(f)}.png"
        try:
            os.link(a, b)
        except OSError:
            shutil.copyfile(a, b)
        out.append(b)
    return out


def plane_file(plane: Any, frame: int) -> str:
    """The file the plane's image sequence shows at scene ``frame`` (its image-user maths)."""
    mat = plane.data.materials[0]
    node = next(n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE")
    user = node.image_user
    k = frame - int(user.frame_start) + 1 + int(user.frame_offset)
    first = bpy.path.abspath(node.image.filepath)
    head, tail = os.path.split(first)
    stem, ext = os.path.splitext(tail)
    return os.path.join(head, f"{frame_stem(k)}{ext}") if stem.lstrip("-").isdigit() else first


def write_plane(scene: Any, obj: Any, plan: FramePlan, color_dir: str | os.PathLike,
                plane_dir: str | os.PathLike) -> Any:
    """Replace the object's image-sequence plane: the colored frames behind it, in camera space.

    The plane is parented to the camera just behind the object's origin and sized to fill
    the camera frame there, so it follows the framing; the lines stay in front of it.
    """
    cam = check_camera(scene)
    remove_plane(obj)
    files = sequence_files(plan, color_dir, plane_dir)
    cm = _matrix(cam.matrix_world)
    local = np.linalg.inv(cm) @ np.array([*_matrix(obj.matrix_world)[:3, 3], 1.0])
    depth = max(-float(local[2]), 1e-3) * 1.02 + 0.01  # a little behind the object
    corners = np.array([list(c) for c in cam.data.view_frame(scene=scene)], np.float64)
    xmin, xmax = corners[:, 0].min(), corners[:, 0].max()
    ymin, ymax = corners[:, 1].min(), corners[:, 1].max()
    z = float(corners[0, 2])
    scale = 1.0 if cam.data.type == "ORTHO" else depth / -z
    verts = [(x * scale, y * scale, -depth)  # bottom-left, bottom-right, top-right, top-left
             for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax))]
    name = f"{PLANE_PREFIX}{obj.name}"
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, co in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1))):
        loop.uv = co
    plane = bpy.data.objects.new(name, mesh)
    plane[OWNER_KEY] = obj.name
    for coll in obj.users_collection:
        coll.objects.link(plane)
    plane.parent = cam
    plane.hide_select = True
    image = bpy.data.images.load(str(files[0]))
    image.name = name
    image.source = "SEQUENCE"
    mesh.materials.append(_plane_material(name, image, plan))
    return plane


def _plane_material(name: str, image: Any, plan: FramePlan) -> Any:
    mat = bpy.data.materials.new(name)
    cg.use_material_nodes(mat)
    tree: Any = mat.node_tree
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    tex: Any = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.interpolation = "Closest"
    user = tex.image_user
    user.frame_start = plan.frames[0]
    user.frame_duration = len(plan.frames)
    user.frame_offset = plan.frames[0] - 1
    user.use_auto_refresh = True
    emit = nodes.new("ShaderNodeEmission")
    clear = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(tex.outputs["Color"], emit.inputs["Color"])
    links.new(tex.outputs["Alpha"], mix.inputs["Fac"])
    links.new(clear.outputs[0], mix.inputs[1])
    links.new(emit.outputs[0], mix.inputs[2])
    links.new(mix.outputs[0], out.inputs["Surface"])
    nodes.active = tex
    if hasattr(mat, "surface_render_method"):
        mat.surface_render_method = "BLENDED"
    else:
        mat.blend_method = "BLEND"
    return mat


# --- the whole job --------------------------------------------------------------------


def default_output_dir(obj: Any) -> str:
    """``//dacon/gp/<object name>/`` with characters unsafe in folder names replaced."""
    name = _UNSAFE.sub("_", obj.name).strip(" .") or "gp"
    return f"//dacon/gp/{name}/"


def resolve_dir(path: str) -> Path:
    """An absolute folder; ``//`` needs a saved .blend."""
    if path.startswith("//") and not bpy.data.filepath:
        raise GPError(f"'{path}' is relative to the .blend file: save the .blend first "
                      "or choose an absolute output folder")
    return Path(os.path.normpath(bpy.path.abspath(path)))


def colorize_object(scene: Any, obj: Any, *, python: str = "", client: Any = None,
                    timeout: float = 3600.0) -> dict:
    """Render, colorize and write back one Grease Pencil object, with its ``dacon_gp`` settings.

    Runs :class:`gp_job.GPJob` to its end (everything is checked before the first render;
    without ``client`` the session's engine for ``python`` is used). Returns counts and
    seconds per step (render, colorize, trace, fills, plane); GPError when it failed.
    """
    from . import gp_job

    job = gp_job.start(scene, obj, python=python, client=client).wait(timeout)
    if job.error is not None or job.state != "done":
        raise GPError(job.message)
    return job.report


def clear_results(obj: Any) -> dict[str, bool]:
    """Remove the object's fills layer and plane (the rendered files stay on disk)."""
    return {"fills": remove_fills(obj), "plane": remove_plane(obj)}
