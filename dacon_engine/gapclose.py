"""Gap closing for unclosed line art (trapped-ball style), as a pure region SPLIT.

A paint bucket leaks through a gap in the line; a "ball" of radius r cannot. We

1. erode the non-line mask with a disk of radius r: what is left are the places the
   ball fits ("cores"); two areas joined only by a gap narrower than about 2r px get
   separate cores. Cores smaller than r*r px are dropped (noise along wavy edges);
2. grow each core back into its own original region by geodesic 4-neighbour steps
   (never through a line pixel, so a grown core stays inside one original region and is
   4-connected); fronts meeting in a gap split it;
3. pixels not reached after the steps (thin parts the ball never fits) form leftover
   pieces (4-connected). A leftover touching exactly one grown core is an appendage of
   it and joins it; one touching none stays its own segment (a thin closed region stays
   whole); one touching several (a long thin channel between cores) stays its own
   segment unless smaller than ``min_fragment`` px, then it joins the neighbour it
   shares the longest border with.

Every output segment is therefore a subset of one input region; line pixels (label 0)
are never changed and regions are never merged.
"""

from __future__ import annotations

import cv2
import numpy as np

from .labelmap import relabel_raster

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _disk(radius: int) -> np.ndarray:
    """(2r+1)x(2r+1) uint8 disk: pixels with dy^2 + dx^2 <= r^2 + r/2 (a round ball)."""
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return ((yy * yy + xx * xx) <= radius * radius + radius // 2).astype(np.uint8)


def split_regions(labels: np.ndarray, n: int, free: np.ndarray, radius: int, *,
                  min_fragment: int | None = None) -> tuple[np.ndarray, int]:
    """Split regions joined through line gaps narrower than about 2*radius px.

    labels: HxW int32 4-connected regions (0 = line), n regions; free: HxW uint8, nonzero
    exactly where labels > 0; radius: ball radius in px (>= 1). min_fragment: leftover
    pieces smaller than this (px) between several cores are absorbed (default
    2 * radius^2). Returns (HxW int32 labels renumbered 1..m in raster order, m), m >= n.
    """
    if radius < 1 or n == 0:
        return labels, n
    from .segments import connected_components, label_areas

    if min_fragment is None:
        min_fragment = 2 * radius * radius
    free = (free > 0).view(np.uint8) if free.dtype == bool else free
    free01 = cv2.compare(free, 0, cv2.CMP_GT)  # 255/0
    core = cv2.erode(free01, _disk(radius))  # outside the image is not line
    n_core1, core_lab = connected_components(core, 4)
    n_core = n_core1 - 1
    keep = label_areas(core_lab, n_core) >= radius * radius
    keep[0] = False
    if n_core == 0 or not keep[1:].any():
        return labels, n  # the ball fits nowhere: nothing to split
    lut = np.zeros(n_core1, np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    n_core = int(keep.sum())
    # cores are few; 16-bit labels make the dilation steps cheap
    dtype = np.uint16 if n_core < 65535 else np.float32
    grown = lut.astype(dtype)[core_lab]

    # 2. geodesic growth restricted to non-line pixels
    steps = 2 * radius + 2
    todo = cv2.bitwise_and(free01, cv2.compare(grown, 0, cv2.CMP_EQ))  # 255 where to fill
    for _ in range(steps):
        dil = cv2.dilate(grown, _CROSS)
        cand = cv2.bitwise_and(todo, cv2.compare(dil, 0, cv2.CMP_GT))
        if not cv2.countNonZero(cand):
            break
        cv2.copyTo(dil, cand, grown)
        cv2.subtract(todo, cand, dst=todo)
    grown = grown.astype(np.int32)

    # 3. leftovers: 4-connected pieces of the unreached non-line pixels
    n_left1, left = connected_components(todo, 4)
    if n_left1 > 1:
        pts = cv2.findNonZero(todo).reshape(-1, 2)
        xs, ys = pts[:, 0].astype(np.intp), pts[:, 1].astype(np.intp)
        lid = left[ys, xs]
        # 4-neighbours; off-image ones clip onto the pixel itself (0 in ``grown``)
        h, w = grown.shape
        nb = np.concatenate([grown[np.maximum(ys - 1, 0), xs], grown[np.minimum(ys + 1, h - 1), xs],
                             grown[ys, np.maximum(xs - 1, 0)], grown[ys, np.minimum(xs + 1, w - 1)]])
        lid4 = np.tile(lid, 4)
        sel = nb > 0
        key, cnt = np.unique(lid4[sel].astype(np.int64) * (n_core + 1) + nb[sel],
                             return_counts=True)
        lc, gc = key // (n_core + 1), key % (n_core + 1)
        k = np.bincount(lc, minlength=n_left1)  # distinct grown neighbours per leftover
        area = np.bincount(lid, minlength=n_left1)
        order = np.lexsort((gc, -cnt, lc))  # longest shared border first
        lc, gc = lc[order], gc[order]
        first = np.ones(lc.size, bool)
        first[1:] = lc[1:] != lc[:-1]
        best = np.zeros(n_left1, np.int32)
        best[lc[first]] = gc[first]
        absorb = (k == 1) | ((k >= 2) & (area < min_fragment))
        absorb[0] = False
        own = ~absorb
        own[0] = False
        llut = np.zeros(n_left1, np.int32)
        llut[absorb] = best[absorb]
        llut[own] = np.arange(n_core + 1, n_core + 1 + int(own.sum()), dtype=np.int32)
        grown[ys, xs] = llut[lid]
    return relabel_raster(grown)
