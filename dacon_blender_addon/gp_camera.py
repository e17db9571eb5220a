"""The scene camera the line art is rendered from, and rendered pixels back in 3D.

:func:`check_camera` is the active camera (GPError without one); :func:`pixels_to_object`
casts each pixel's camera ray onto the object's drawing plane. numpy is imported where it is
used, never at module import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .gp_frames import GPError

if TYPE_CHECKING:
    import numpy as np


def check_camera(scene: Any) -> Any:
    """The scene's active camera (GPError without one)."""
    if scene.camera is None:
        raise GPError("the scene has no active camera to render the line art from")
    return scene.camera


def world_matrix(m: Any) -> np.ndarray:
    """A Blender 4x4 matrix as a float64 array."""
    import numpy as np

    return np.array([list(row) for row in m], np.float64)


def pixels_to_object(scene: Any, obj: Any, uv: np.ndarray, width: int, height: int
                     ) -> np.ndarray:
    """Pixel coordinates (N x 2, x right, y down) -> object-space points on its drawing plane.

    The drawing plane is the object's local X-Z plane (Grease Pencil's default "Front"
    plane); each pixel's camera ray is intersected with it (the camera as at the scene's
    current frame). Rays nearly parallel to it hit the camera-facing plane through the
    object's origin instead.
    """
    import numpy as np

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
    cm = world_matrix(cam.matrix_world)
    if cam.data.type == "ORTHO":
        o_local = np.column_stack([x, y, np.zeros(n), np.ones(n)])
        d_local = np.tile([0.0, 0.0, -1.0], (n, 1))
    else:
        o_local = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
        d_local = np.column_stack([x, y, np.full(n, z)])
    origins = o_local @ cm.T
    origins = origins[:, :3] / origins[:, 3:4]
    dirs = d_local @ cm[:3, :3].T
    om = world_matrix(obj.matrix_world)
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
    import numpy as np

    return v / max(float(np.linalg.norm(v)), 1e-12)
