"""New closed shapes drawn into a frame: the detail or object that appears between frames.

An animator's next drawing often gains a closed shape inside an existing region (a
button, a pocket, a hand in front of the body, a prop): the region it sits in becomes a
ring with a hole, and the shape's inside is a segment no reference has. A model must
still match the ring to its region. :func:`insert_shapes` draws such shapes into line
art and its ground truth, for training pairs and for the ``new-shape`` quality suite.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..fileio.images import as_rgba
from ..segmentation.references import pack_rgba
from ..segmentation.segments import line_mask
from .render import LINE_RGBA


def line_width(ink: np.ndarray) -> int:
    """Typical stroke width (px) of a line mask: ink area over skeleton length, 1..6."""
    from skimage.morphology import skeletonize

    length = int(skeletonize(ink).sum())
    if length == 0:
        return 1
    return int(np.clip(round(int(ink.sum()) / length), 1, 6))


def _new_color(gt: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """An opaque RGBA that occurs nowhere in ``gt``."""
    used = set(np.unique(pack_rgba(gt.reshape(-1, 4))).tolist())
    while True:
        c = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
        if int(pack_rgba(np.array(c, np.uint8))) not in used:
            return c


def insert_shapes(line: np.ndarray, gt: np.ndarray, rng: np.random.Generator, n: int = 2,
                  same_color: float = 0.5, max_radius: float = 0.08
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw up to ``n`` closed shapes (ellipses or rotated rectangles) into ``line``/``gt``.

    Each shape lies wholly inside one region (its outline keeps a line width of paper from
    every existing line, so it never touches or crosses one), is outlined in opaque black
    at the drawing's own stroke width (aliased, as the rest), and its inside is painted
    in ``gt`` with the color of the region around it (a detail drawn in the same paint)
    with probability ``same_color``, else with a color that occurs nowhere in ``gt`` (a
    new object: no reference has it). Outline pixels are black lines in ``gt`` too.
    max_radius: the largest half-axis as a fraction of the frame's shorter side.
    Returns (line RGBA, gt RGBA, number of shapes drawn): copies, inputs untouched;
    fewer than ``n`` shapes when no region has room.
    """
    h, w = line.shape[:2]
    ink = line_mask(line)
    lw = line_width(ink)
    out_line = as_rgba(line).copy()
    out_gt = gt.copy()
    blocked = ink.copy()
    blocked[[0, -1], :] = blocked[:, [0, -1]] = True  # shapes stay inside the frame too
    r_min = 3 + lw
    r_max = max(r_min, max_radius * min(h, w))
    drawn = 0
    for _ in range(n):
        dist = cv2.distanceTransform((~blocked).view(np.uint8), cv2.DIST_L2, 5)
        ys, xs = np.nonzero(dist >= r_min + 2 * lw + 1)
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        cy, cx = int(ys[i]), int(xs[i])
        r = rng.uniform(r_min, min(r_max, dist[cy, cx] - 2 * lw - 1) + 1e-6)
        k = max(rng.uniform(0.45, 1.0), min(1.0, (2 * lw + 2) / r))  # room inside
        angle = float(rng.uniform(0, 180))
        filled = np.zeros((h, w), np.uint8)
        outline = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            box = cv2.ellipse2Poly((cx, cy), (int(r), int(r * k)), int(angle), 0, 360, 5)
        else:  # half-diagonal r: the corners stay as far from other lines as an ellipse
            a = r / np.hypot(1.0, k)
            box = np.round(cv2.boxPoints(((cx, cy), (2 * a, 2 * a * k), angle))).astype(np.int32)
        cv2.fillPoly(filled, [box], 1)
        cv2.polylines(outline, [box], True, 1, thickness=lw, lineType=cv2.LINE_8)
        edge, inside = outline > 0, (filled > 0) & (outline == 0)
        if not inside.any():
            continue
        around = tuple(int(v) for v in gt[cy, cx])
        fill = around if rng.random() < same_color else _new_color(out_gt, rng)
        out_gt[inside] = fill
        out_gt[edge] = LINE_RGBA
        out_line[edge] = LINE_RGBA
        blocked |= edge | inside
        drawn += 1
    return out_line, out_gt, drawn
