"""Write the colored frames back as an image-sequence plane behind a Grease Pencil object.

The plane is parented to the camera just behind the object and fills the camera frame there;
held frames of a keys-only plan are linked (or copied) so the sequence has one file per scene
frame. numpy is imported where it is used, never at module import.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import bpy

from . import compat_gpencil as cg
from .gp_camera import check_camera, world_matrix
from .gp_frames import FramePlan, frame_stem

PLANE_PREFIX = "DACoN plane "
OWNER_KEY = "dacon_gp_owner"      # custom property: name of the GP object a plane belongs to


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
    import numpy as np

    cam = check_camera(scene)
    remove_plane(obj)
    files = sequence_files(plan, color_dir, plane_dir)
    cm = world_matrix(cam.matrix_world)
    local = np.linalg.inv(cm) @ np.array([*world_matrix(obj.matrix_world)[:3, 3], 1.0])
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
