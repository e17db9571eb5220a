"""Magnified views of line art: what a close-up of a drawing looks like.

A close-up is drawn with the same pen as the full shot: its lines keep their width while
everything else grows. :func:`magnify` crops a window, scales it up and redraws the lines
at the pen width of the original (the scaled ink's skeleton, dilated), so a reference
sheet can also be seen at the scale of a bust shot (:func:`zoomed_windows`), and the
close-up benchmark can make its targets the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from skimage.morphology import skeletonize

from .segments import line_mask


def pen_width(line: np.ndarray) -> int:
    """The typical line width of line art in px (>= 1): twice the median distance from the
    ink's skeleton to the paper, less the centre pixel."""
    ink = line_mask(line)
    skel = skeletonize(ink)
    if not skel.any():
        return 1
    dist = cv2.distanceTransform(ink.view(np.uint8), cv2.DIST_L2, 5)
    return max(1, round(2 * float(np.median(dist[skel])) - 1))


def fill_lines(labels: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """HxWx4: every pixel in the color of its nearest segment, line pixels included (a
    magnified line then never lends its color to the fills around it)."""
    from scipy.ndimage import distance_transform_edt

    lut = np.zeros((len(colors) + 1, 4), np.uint8)
    lut[1:] = colors
    if not (labels > 0).any():
        return lut[np.zeros_like(labels)]
    iy, ix = distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    return lut[labels[iy, ix]]


def redraw(ink: np.ndarray, width: int) -> np.ndarray:
    """An ink mask redrawn ``width`` px wide: its skeleton (topology kept, so closed
    regions stay closed), dilated by a ``width`` x ``width`` ellipse."""
    skel = skeletonize(ink).view(np.uint8)
    if width <= 1:
        return skel > 0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    return cv2.dilate(skel, k) > 0


def magnify(line: np.ndarray, color: np.ndarray | None, box: tuple[int, int, int, int],
            width: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The window ``box`` = (x, y, w, h) of line art (and its colored frame) scaled up to
    the full frame size, lines redrawn ``width`` px wide. Colors scale nearest-neighbour
    (flat colors stay exact); the returned line art is black ink on transparent white."""
    x, y, bw, bh = box
    h, w = line.shape[:2]
    ink = line_mask(line[y:y + bh, x:x + bw]).astype(np.float32)
    cover = cv2.resize(ink, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3] = 255
    out[redraw(cover > 0.02, width)] = (0, 0, 0, 255)
    big = None if color is None else cv2.resize(
        np.ascontiguousarray(color[y:y + bh, x:x + bw]), (w, h), interpolation=cv2.INTER_NEAREST)
    return out, big


def zoomed_windows(line: np.ndarray, zoom: float, overlap: float = 0.25
                   ) -> list[tuple[int, int, int, int]]:
    """Windows (x, y, w, h) of 1/``zoom`` of the frame that tile the drawing's ink box, each
    overlapping its neighbours by ``overlap`` of a window (at least one window)."""
    h, w = line.shape[:2]
    ww, wh = max(1, round(w / zoom)), max(1, round(h / zoom))
    ys, xs = np.nonzero(line_mask(line))
    if len(xs) == 0:
        return []
    boxes = []
    for y0 in _starts(int(ys.min()), int(ys.max()) + 1, wh, h, overlap):
        for x0 in _starts(int(xs.min()), int(xs.max()) + 1, ww, w, overlap):
            boxes.append((x0, y0, ww, wh))
    return boxes


def _starts(lo: int, hi: int, win: int, size: int, overlap: float) -> Sequence[int]:
    """Window starts covering [lo, hi) with windows of ``win`` inside [0, size)."""
    span = hi - lo
    n = max(1, math.ceil((span - win) / (win * (1 - overlap))) + 1) if span > win else 1
    first = min(max(0, lo if n > 1 else lo + (span - win) // 2), size - win)
    last = min(max(0, hi - win), size - win)
    return sorted({round(first + (last - first) * k / max(n - 1, 1)) for k in range(n)})
