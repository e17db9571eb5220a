"""Gap closing for unclosed line art (trapped-ball style), as a pure region SPLIT.

A paint bucket leaks through a gap in the line; a ball of radius r cannot. We

1. erode the non-line mask with a disk of radius r: what is left are the places the
   ball's centre fits ("cores"); areas joined only through a gap narrower than about
   2r+1 px get separate cores. Cores smaller than r*r px are dropped (noise);
2. give every pixel the ball covers (the core dilated by the same disk, i.e. the
   morphological opening) the label of its core. A ball lies entirely in non-line
   pixels, so it never crosses a line and cannot pass a gap narrower than itself; where
   balls of two cores overlap (in a gap mouth) the larger label wins;
3. pixels no ball covers (corners, gap necks, regions or parts thinner than the ball)
   form leftover pieces (4-connected). A piece touching exactly one ball area joins it
   (a corner or thin appendage); one touching none stays its own segment (a thin closed
   region stays whole); one touching several (a neck between cores) stays its own
   segment unless smaller than ``min_fragment`` px, then it joins the neighbour it
   shares the longest border with.

Every output segment is a subset of one input region: line pixels (label 0) never
change and regions are never merged. Known limit: a region thinner than the ball that
leaks through a gap into a big region is a leftover touching one ball area and joins it.
Measured on PaintBucket frame 0242 with 60 punched 4x4 holes (r = 4): ground-truth
regions sharing a segment with another drop from 46 to 10, while on the intact frame
18 of 274 regions get split (at narrow necks).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..fileio.labelmap import relabel_raster
from .components import connected_components, label_areas

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _disk(radius: int) -> np.ndarray:
    """(2r+1)x(2r+1) uint8 disk: pixels with dy^2 + dx^2 <= r^2 + r/2 (a round ball)."""
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return ((yy * yy + xx * xx) <= radius * radius + radius // 2).astype(np.uint8)


def split_regions(free: np.ndarray, radius: int, *, min_fragment: int | None = None,
                  passes: int = 1) -> tuple[np.ndarray, int]:
    """Segment the non-line pixels, splitting regions joined through line gaps narrower
    than about 2*radius+1 px.

    free: HxW uint8 (or bool), nonzero where a pixel is not line; radius: ball radius in
    px (0 = plain 4-connected regions). The result refines the 4-connected components
    of ``free``. passes: ball sizes tried,
    radius, radius//2, ... (like LineFiller's decreasing balls; later, smaller balls only
    look at pixels no earlier ball covered). The default 1 is best on PaintBucket art:
    a second pass splits many thin areas at their necks. min_fragment: leftover pieces
    smaller than this (px) between several cores are absorbed (default 2 * radius^2).
    Returns (HxW int32 labels 1..m in raster order of first pixel, 0 = line; m).
    """
    free = np.ascontiguousarray(free.view(np.uint8) if free.dtype == bool else free)
    if radius < 1:
        return _plain_regions(free)
    if min_fragment is None:
        min_fragment = 2 * radius * radius
    todo = cv2.compare(free, 0, cv2.CMP_GT)  # 255 where not yet assigned
    grown, n_core = _grow_balls(todo, _ball_radii(radius, passes))
    if n_core == 0:
        return _plain_regions(free)  # the ball fits nowhere: nothing to split
    return relabel_raster(_add_leftovers(todo, grown, n_core, min_fragment))


def _plain_regions(free: np.ndarray) -> tuple[np.ndarray, int]:
    """(labels, n): the 4-connected components of the nonzero pixels of ``free``."""
    n1, lab = connected_components(free, 4)
    return lab, n1 - 1


def _ball_radii(radius: int, passes: int) -> list[int]:
    """The ball radius of each pass: radius, radius // 2, ... (at most ``passes``, >= 1)."""
    radii = [radius]
    while len(radii) < passes and radii[-1] // 2 >= 1:
        radii.append(radii[-1] // 2)
    return radii


def _grow_balls(todo: np.ndarray, radii: list[int]) -> tuple[np.ndarray, int]:
    """Steps 1 and 2 for each radius: (HxW core labels of the ball-covered pixels, 0
    elsewhere (uint16, float32 past 65534 cores), core count); ``todo`` loses them."""
    grown = np.zeros(todo.shape, np.uint16)  # 16-bit labels: cheap dilation
    n_core = 0
    for rad in radii:
        new, k = _cores(todo, rad, n_core, grown.dtype)
        if k == 0:
            continue
        if n_core + k >= 65535 and grown.dtype == np.uint16:
            grown = grown.astype(np.float32)  # exact for labels < 2^24
        # 2. every pixel a ball centred on a core covers goes to that core. A ball lies
        # entirely in non-line pixels, so it never crosses a line; where balls of two
        # cores overlap (at a gap) the larger label wins.
        ball = cv2.dilate(new, _disk(rad))
        cv2.copyTo(ball, cv2.bitwise_and(todo, cv2.compare(ball, 0, cv2.CMP_GT)), grown)
        cv2.subtract(todo, cv2.compare(grown, 0, cv2.CMP_GT), dst=todo)
        n_core += k
    return grown, n_core


def _cores(todo: np.ndarray, rad: int, n_core: int, dtype: np.dtype
           ) -> tuple[np.ndarray | None, int]:
    """Step 1: (HxW labels n_core+1.. of the cores of >= rad^2 px where a ball of radius
    ``rad`` fits among the ``todo`` pixels, 0 elsewhere; their count)."""
    core = cv2.erode(todo, _disk(rad))  # (outside the image: no line)
    n1, core_lab = connected_components(core, 4)
    if n1 <= 1:
        return None, 0
    keep = label_areas(core_lab, n1 - 1) >= rad * rad
    keep[0] = False
    k = int(keep.sum())
    if k == 0:
        return None, 0
    if n_core + k >= 65535 and dtype == np.uint16:
        dtype = np.float32
    lut = np.zeros(n1, dtype)
    lut[keep] = np.arange(n_core + 1, n_core + k + 1)
    return lut[core_lab], k


def _add_leftovers(todo: np.ndarray, grown: np.ndarray, n_core: int, min_fragment: int
                   ) -> np.ndarray:
    """Step 3: HxW int32 labels, the ball areas' plus each leftover piece's (4-connected
    pieces of ``todo``): a ball area's it joins, or one of its own after n_core."""
    n_left1, left = connected_components(todo, 4)
    if n_left1 <= 1:
        return grown.astype(np.int32)
    k, best = _leftover_contacts(todo, grown, left, n_left1, n_core)
    area = label_areas(left, n_left1 - 1)
    absorb = (k == 1) | ((k >= 2) & (area < min_fragment))
    absorb[0] = False
    own = ~absorb
    own[0] = False
    llut = np.zeros(n_left1, np.int32)
    llut[absorb] = best[absorb]
    llut[own] = np.arange(n_core + 1, n_core + 1 + int(own.sum()), dtype=np.int32)
    # leftover and ball pixels are disjoint: one add writes every leftover's label
    out = grown.astype(np.int32)
    out += llut[left]
    return out


def _leftover_contacts(todo: np.ndarray, grown: np.ndarray, left: np.ndarray, n_left1: int,
                       n_core: int) -> tuple[np.ndarray, np.ndarray]:
    """Per leftover piece: (distinct ball areas 4-adjacent to it, the one sharing the
    longest border (ties -> lower label), 0 where none), each (n_left1,)."""
    h, w = grown.shape
    # contacts: only leftover pixels with a ball-covered 4-neighbour matter
    near = cv2.dilate(cv2.compare(grown, 0, cv2.CMP_GT), _CROSS)
    pts = cv2.findNonZero(cv2.bitwise_and(todo, near))
    if pts is None:
        pts = np.zeros((0, 2), np.int32)
    pts = pts.reshape(-1, 2)
    xs, ys = pts[:, 0].astype(np.intp), pts[:, 1].astype(np.intp)
    lid = left[ys, xs]
    # 4-neighbours; off-image ones clip onto the pixel itself (0 in ``grown``)
    nb = np.concatenate([grown[np.maximum(ys - 1, 0), xs],
                         grown[np.minimum(ys + 1, h - 1), xs],
                         grown[ys, np.maximum(xs - 1, 0)],
                         grown[ys, np.minimum(xs + 1, w - 1)]]).astype(np.int64)
    lid4 = np.tile(lid.astype(np.int64), 4)
    sel = nb > 0
    key, cnt = np.unique(lid4[sel] * (n_core + 1) + nb[sel], return_counts=True)
    lc, gc = key // (n_core + 1), key % (n_core + 1)
    k = np.bincount(lc, minlength=n_left1)  # distinct ball areas touched per piece
    order = np.lexsort((gc, -cnt, lc))  # longest shared border first
    lc, gc = lc[order], gc[order]
    first = np.ones(lc.size, bool)
    first[1:] = lc[1:] != lc[:-1]
    best = np.zeros(n_left1, np.int32)
    best[lc[first]] = gc[first]
    return k, best
