"""Line art -> segments (the paint-bucket regions the matcher colors).

Rules (PaintBucket / BasicPBC "default" mode, see the dataset notes §3):

* **Line pixels.** The RGBA line art is composited on white first, so a transparent pixel
  is paper whatever RGB it stores. A pixel is a *black line* where the composited BT.601
  luminance Y = 0.299 R + 0.587 G + 0.114 B (OpenCV's RGB->gray) is <= ``threshold``
  (default 128). Luminance rather than the max channel so that dark colored ink (dark
  blue, brown) also counts as line. For black ink of alpha a the composite is 255 - a,
  so the default reproduces BasicPBC's ``alpha >= 127`` rule on PaintBucket line art
  (opaque black lines on transparent paper).
* **Color lines.** Opaque (alpha >= 128) pure red (255,0,0), green (0,255,0) or blue
  (0,0,255) pixels are shading-boundary lines: they separate regions too (pure green
  is brighter than the threshold, so it is named explicitly).
* **Regions.** 4-connected components of the pixels that are neither; label 0 = line;
  regions are numbered 1..n in raster order of their first pixel.
* **Color-line pixels** then get labels, color by color in the order red, blue, green
  (BasicPBC's order). Each 8-connected component of one color looks at the labels of its
  4-neighbours (BasicPBC dilates with scikit-image's default cross footprint, so 4- not
  8-neighbours) among the labels that existed before this step (pixels of an earlier
  color that were merged count with their region; new segments made by this step are
  ignored, as in BasicPBC):
    - touches >= 2 of them: its pixels join the one with the smallest area (areas
      measured before this step; ties -> the lower label);
    - touches exactly 1, or touches nothing at all: it becomes a NEW segment (a line- or
      dot-shaped highlight/shadow), numbered after all regions, red first, then blue,
      then green, each in raster order;
    - touches only new segments: it stays line (0).
* **Black lines always stay 0.** No small-region merge by default (dataset parity);
  ``min_region=N`` merges regions of <= N px into their smallest-area 8-neighbour
  before the color-line step (BasicPBC's inference-time ``erase_single_pixels``).
* ``gap_radius=r`` > 0 splits regions that leak through line gaps narrower than about
  2r px (trapped-ball style; see :mod:`dacon_engine.segmentation.gapclose`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DaconError
from ..fileio.images import as_rgba, read_image
from ..fileio.labelmap import MAX_LABEL, relabel_raster
from ..frames import SegmentedFrame
from ..options import LineOptions, check_gap_radius
from . import lineart as la
from .components import connected_components, label_areas, label_runs, point_components, run_areas
from .gapclose import split_regions

DEFAULT_THRESHOLD = 128
"""Composited luminance <= this is black line (0..255)."""

COLOR_LINE_MIN_ALPHA = 128
"""Pure R/G/B pixels with alpha >= this are color lines (fixed: the code tests alpha's
top bit). BasicPBC needs alpha == 255; anti-aliased edges of a pure-color stroke
(alpha 128..254) count as color line here, below 128 they are paper."""

COLOR_LINES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("green", (0, 255, 0)),
)
"""Color lines in processing order (BasicPBC's order)."""

COLORED_FRAME_LINE_MAX = 40
"""segments_from_color: opaque pixels with all of R, G, B <= this are line."""


def _gray(rgba: np.ndarray) -> np.ndarray:
    """HxW uint8 BT.601 luminance of the stored RGB (alpha ignored)."""
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY)


# luminance OpenCV gives each pure line color: a pixel of that color must have it
_COLOR_LINE_GRAY = [int(cv2.cvtColor(np.array([[c]], np.uint8), cv2.COLOR_RGB2GRAY)[0, 0])
                    for _, c in COLOR_LINES]
_CANDIDATE_LUT = np.zeros(256, np.uint8)
_CANDIDATE_LUT[_COLOR_LINE_GRAY] = 255

Points = tuple[np.ndarray, np.ndarray]  # (xs, ys) int64 pixel coordinates, raster order


def _color_line_points(rgba: np.ndarray, gray: np.ndarray | None = None
                       ) -> list[Points | None]:
    """Per entry of COLOR_LINES, the (xs, ys) of its pixels in raster order, or None.

    gray: the stored-RGB luminance (:func:`_gray`). Only pixels whose luminance equals a
    pure line color's are examined (one LUT pass; most line art has none), so no
    full-size mask is built.
    """
    if gray is None:
        gray = _gray(rgba)
    cand = cv2.LUT(gray, _CANDIDATE_LUT)
    if not cv2.countNonZero(cand):
        return [None] * len(COLOR_LINES)
    pts = cv2.findNonZero(cand).reshape(-1, 2)
    xs, ys = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    px = rgba[ys, xs]  # (N, 4)
    opaque = px[:, 3] >= COLOR_LINE_MIN_ALPHA
    out: list[Points | None] = []
    for _, (r, g, b) in COLOR_LINES:
        sel = opaque & (px[:, 0] == r) & (px[:, 1] == g) & (px[:, 2] == b)
        out.append((xs[sel], ys[sel]) if sel.any() else None)
    return out


def _composite_gray_inplace(rgba: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Turn stored-RGB luminance into luminance composited on white, in place.

    Y' = Y*a/255 + (255 - a) (rounded, saturating): compositing commutes with the linear
    luminance. Skipped for fully opaque art. Reuses buffers: full-size temporaries cost
    page faults that matter at 1920x1920.
    """
    alpha = cv2.extractChannel(rgba, 3)
    if cv2.minMaxLoc(alpha)[0] < 255:
        cv2.multiply(gray, alpha, dst=gray, scale=1.0 / 255.0)
        cv2.bitwise_not(alpha, dst=alpha)
        cv2.add(gray, alpha, dst=gray)
    return gray


def _dark_mask(rgba: np.ndarray, threshold: int) -> np.ndarray:
    """HxW uint8 255/0: composited-on-white luminance <= threshold."""
    gray = _composite_gray_inplace(rgba, _gray(rgba))
    return cv2.compare(gray, float(threshold), cv2.CMP_LE)


def _one_pixel(fn):
    """OpenCV reads a 1x1 array as a scalar: run ``fn`` on a 1x2 copy and crop back."""
    import functools

    @functools.wraps(fn)
    def wrapper(rgba, *args, **kw):
        a = np.asarray(rgba)
        if a.ndim == 3 and a.shape[0] * a.shape[1] == 1:
            out = fn(np.concatenate([a, a], axis=1), *args, **kw)
            if isinstance(out, tuple):
                return tuple(np.ascontiguousarray(o[:, :1])
                             if isinstance(o, np.ndarray) and o.ndim == 2 else o for o in out)
            return np.ascontiguousarray(out[:, :1])
        return fn(rgba, *args, **kw)
    return wrapper


@_one_pixel
def line_mask(rgba: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """HxW bool: True where a pixel is line (black line or color line).

    rgba: HxWx4 (or HxWx3 = opaque) uint8. See the module docstring for the rule:
    composited-on-white luminance <= ``threshold``, or opaque pure red/green/blue.
    """
    a = as_rgba(rgba, gray=False)
    m = _dark_mask(a, threshold) > 0
    for pts in _color_line_points(a):
        if pts is not None:
            m[pts[1], pts[0]] = True
    return m


def _check_count(n: int, path) -> None:
    if n > MAX_LABEL:
        raise DaconError(path, f"more than {MAX_LABEL} segments")


def _merge_small_regions(labels: np.ndarray, n: int, max_area: int) -> tuple[np.ndarray, int]:
    """Regions of <= max_area px join their smallest-area 8-neighbour region (ties -> lower
    label); chains of small regions collapse together; a small region without any
    neighbour becomes line (0). Result renumbered 1..n keeping raster order."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as graph_components

    areas = np.bincount(labels.ravel(), minlength=n + 1)
    small = areas <= max_area
    small[0] = False
    if not small.any():
        return labels, n
    ys, xs = np.nonzero(small[labels])
    sid = labels[ys, xs]
    pad = np.pad(labels, 1)
    nb = np.concatenate([pad[ys + 1 + dy, xs + 1 + dx]
                         for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    src = np.tile(sid, 8)
    ok = (nb > 0) & (nb != src)
    src, nb = src[ok], nb[ok]
    target = np.zeros(n + 1, np.int64)  # 0: no neighbour
    if src.size:
        key = np.unique(src.astype(np.int64) * (n + 1) + nb)
        s, t = key // (n + 1), key % (n + 1)
        order = np.lexsort((t, areas[t], s))
        s, t = s[order], t[order]
        first = np.ones(s.size, bool)
        first[1:] = s[1:] != s[:-1]
        target[s[first]] = t[first]
    smalls = np.flatnonzero(small)
    linked = smalls[target[smalls] > 0]
    g = coo_matrix((np.ones(linked.size), (linked, target[linked])), shape=(n + 1, n + 1))
    _, comp = graph_components(g)  # weakly connected: links in either direction
    # each merged group keeps the number of its lowest (earliest in raster order) label:
    # the first node of each component
    lut = np.unique(comp, return_index=True)[1][comp].astype(np.int32)
    lut[0] = 0
    lut[smalls[target[smalls] == 0]] = 0  # isolated small regions become line
    return relabel_raster(lut[labels])


def _assign_color_lines(labels: np.ndarray, n_regions: int, n_cur: int, areas: np.ndarray,
                        xs: np.ndarray, ys: np.ndarray) -> int:
    """Give the pixels (xs, ys, raster order) of ONE line color labels, in place.

    Vectorized over components; see the module docstring for the rule. ``n_regions``:
    labels that count as regions (those before the color-line step); ``n_cur``: labels
    in use now. Returns the new label count.
    """
    h, w = labels.shape
    cid = point_components(xs, ys, w)
    ncomp = int(cid.max()) + 1
    # 4-neighbour labels; off-image neighbours clip onto the pixel itself, which is still
    # 0 (unassigned) here, i.e. "nothing"
    nb = np.concatenate([labels[np.maximum(ys - 1, 0), xs], labels[np.minimum(ys + 1, h - 1), xs],
                         labels[ys, np.maximum(xs - 1, 0)], labels[ys, np.minimum(xs + 1, w - 1)]])
    cid4 = np.tile(cid, 4)
    touched = np.bincount(cid4[nb > 0], minlength=ncomp) > 0
    sel = (nb > 0) & (nb <= n_regions)
    key = np.unique(cid4[sel] * (n_regions + 1) + nb[sel])
    c, t = key // (n_regions + 1), key % (n_regions + 1)
    k = np.bincount(c, minlength=ncomp)  # distinct regions touched per component
    order = np.lexsort((t, areas[t], c))  # per component: smallest area, then lowest label
    c, t = c[order], t[order]
    first = np.ones(c.size, bool)
    first[1:] = c[1:] != c[:-1]
    lut = np.zeros(ncomp, np.int32)
    lut[c[first]] = t[first]
    lut[k < 2] = 0
    new = (k == 1) | ~touched
    new[0] = False
    new_ids = np.flatnonzero(new)
    lut[new_ids] = np.arange(n_cur + 1, n_cur + 1 + new_ids.size)
    labels[ys, xs] = lut[cid]
    return n_cur + int(new_ids.size)


def _label_color_lines(labels: np.ndarray, n: int, points: list[Points | None]) -> int:
    """Apply the color-line rule for every present color (in place); returns the count.

    points: per COLOR_LINES entry the color's pixels (see :func:`_color_line_points`).
    """
    if all(p is None for p in points):
        return n
    areas = label_areas(labels, n)
    n_cur = n
    for p in points:
        if p is not None:
            n_cur = _assign_color_lines(labels, n, n_cur, areas, p[0], p[1])
    return n_cur


PIXEL_REGION, PIXEL_LINE, PIXEL_TRACE, PIXEL_SPECK = 0, 1, 2, 3
"""Pixel classes of :func:`segment_line_art_details` (``classes``): region, black line
(or user line color), trace (color) line, speck merged away."""


def segment_line_art(rgba: np.ndarray, *, gap_radius: int = 0,
                     threshold: int = DEFAULT_THRESHOLD, min_region: int = 0,
                     line_options: LineOptions | None = None,
                     path: str | os.PathLike | None = None) -> tuple[np.ndarray, int]:
    """Segment line art: HxWx4 (or HxWx3) uint8 -> (HxW int32 labels, n_segments).

    Label 0 = line; 1..n = segments (regions in raster order of first pixel, then new
    color-line segments). ``gap_radius`` (px, 0 = off) splits regions joined through
    line gaps; ``min_region`` (px, 0 = off) merges regions of <= that many pixels.
    ``line_options`` (:class:`dacon_engine.options.LineOptions`, None = its defaults):
    ``mode`` "auto" (default: "fixed" on clean art, else "adaptive"), "fixed",
    "adaptive" (see :mod:`dacon_engine.segmentation.lineart`) or "learned" (the shipped
    line extractor, :mod:`dacon_engine.segmentation.lineextractor`); ``trace_colors``:
    shading-boundary line colors (names, "R,G,B", "#rrggbb" or tuples; default red,
    blue, green); ``line_colors``: extra colors of main lines that stay line (e.g.
    "brown"). ``threshold`` is the fixed mode's. ``path`` only names the image in errors.
    Raises DaconError when there is no region or more than 16777215 segments, ValueError
    on bad options.
    """
    labels, n, _, _ = segment_line_art_details(
        rgba, gap_radius=gap_radius, threshold=threshold, min_region=min_region,
        line_options=line_options, path=path)
    return labels, n


def _rgb_gray(c) -> int:
    """OpenCV's luminance of one RGB color."""
    return int(cv2.cvtColor(np.array([[c]], np.uint8), cv2.COLOR_RGB2GRAY)[0, 0])


def _exact_color_count(rgb: np.ndarray, colors) -> int:
    """Pixels of composited RGB exactly equal to one of ``colors``."""
    return sum(cv2.countNonZero(cv2.inRange(rgb, c, c)) for c in colors)


def segment_line_art_details(rgba: np.ndarray, *, gap_radius: int = 0,
                             threshold: int = DEFAULT_THRESHOLD, min_region: int = 0,
                             line_options: LineOptions | None = None,
                             path: str | os.PathLike | None = None, classes: bool = False,
                             allow_empty: bool = False
                             ) -> tuple[np.ndarray, int, dict, np.ndarray | None]:
    """:func:`segment_line_art` plus (info, pixel classes).

    A frame without any enclosed region (all line: black, a fade) is a DaconError unless
    ``allow_empty`` (then 0 segments, every label 0).

    info: JSON-ready dict: ``line_mode`` used ("fixed"/"adaptive"/"learned"), ``requested``
    mode, ``threshold`` (fixed) or ``levels`` (adaptive, learned: paper, noise, ink,
    strong, weak),
    ``trace_colors``, ``line_colors``, ``specks`` (regions merged away) and
    ``speck_pixels``. classes: HxW uint8 of PIXEL_* (only when ``classes=True``).
    """
    rgb = _composited_rgb(rgba)
    check_gap_radius(gap_radius, rgb.shape[:2], path)
    rules = la.LineRules.make(line_options, threshold)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mode, hist = _choose_mode(rgb, gray, rules)
    info: dict = {"line_mode": mode, "requested": rules.mode, "gap_radius": int(gap_radius),
                  "trace_colors": [list(c) for c in rules.trace_colors],
                  "line_colors": [list(c) for c in rules.line_colors]}
    free, colors, adaptive = _free_pixels(rgb, gray, rules, mode, hist, info)
    labels, n = _label_regions(free, int(gap_radius))
    sx = sy = np.zeros(0, np.int64)  # speck pixels
    info["specks"] = info["speck_pixels"] = 0
    if adaptive is not None:  # (no region: no speck either)
        n, sx, sy = _merge_region_specks(labels, n, adaptive, info)
    if min_region:  # (< 1 px, or no region: nothing is small enough to merge)
        labels, n = _merge_small_regions(labels, n, int(min_region))
    n_regions = n
    n = _label_color_lines(labels, n, colors.trace)
    if adaptive is not None and n > n_regions:
        n, tx, ty = _merge_trace_specks(labels, n, n_regions, colors.trace, info)
        sx, sy = np.concatenate([sx, tx]), np.concatenate([sy, ty])
    if n == 0 and not allow_empty:
        raise DaconError(path, "no regions found (the image is all line)")
    _check_count(n, path)
    cls = _pixel_classes(labels, colors.trace, sx, sy) if classes else None
    return labels, n, info, cls


def _composited_rgb(rgba: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 line art composited on white (opaque RGB as it is)."""
    arr = np.asarray(rgba)
    if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)  # opaque RGB: already composited
    return la.composite_rgb(as_rgba(arr, gray=False))


def _choose_mode(rgb: np.ndarray, gray: np.ndarray, rules: la.LineRules
                 ) -> tuple[str, np.ndarray | None]:
    """(line mode to use, gray histogram or None): "auto" is fixed on clean art, else adaptive."""
    if rules.mode != "auto":
        return rules.mode, None
    hist = la.gray_histogram(gray)
    exempt = 0
    mid = float(hist[la.MID_LO:la.MID_HI + 1].sum())
    limit = la.CLEAN_MAX_MID * gray.size
    colors = rules.trace_colors + rules.line_colors
    # exact trace/line-color pixels are legitimately mid-grey: counted only when they
    # could decide (at most the pixels at those colors' grey levels)
    at_levels = sum(float(hist[g]) for g in {_rgb_gray(c) for c in colors}
                    if la.MID_LO <= g <= la.MID_HI)
    if mid > limit and mid - at_levels <= limit:
        exempt = _exact_color_count(rgb, colors)
    return ("fixed" if la.is_clean(gray, exempt, hist) else "adaptive"), hist


@dataclass
class _Adaptive:
    """What adaptive mode's speck steps need: the paper / ink levels and the darkness."""

    levels: la.PaperInk
    dark: np.ndarray


def _free_pixels(rgb: np.ndarray, gray: np.ndarray, rules: la.LineRules, mode: str,
                 hist: np.ndarray | None, info: dict
                 ) -> tuple[np.ndarray, la.ColorPixels, _Adaptive | None]:
    """(non-line mask, color-line pixels, adaptive levels or None); threshold/levels to info."""
    if mode == "fixed":
        info["threshold"] = rules.threshold
        # 255 where luminance > threshold (cv2.threshold, unlike cv2.compare with a scalar,
        # also takes a 1x1 image)
        free = cv2.threshold(gray, float(rules.threshold), 255, cv2.THRESH_BINARY)[1]
        colors = la.classify_colors(rgb, rules, None, 0.0, adaptive=False)
        adaptive = None
    else:
        lv = la.estimate_levels(rgb, gray, hist)
        info["levels"] = lv.record()
        dark = la.darkness(gray, lv)
        if mode == "learned":
            from .lineextractor import learned_lines

            line, colors = learned_lines(rgb, gray, lv, rules, dark)
        else:
            line, colors = la.adaptive_lines(rgb, gray, lv, rules, dark)
        free = cv2.bitwise_not(line, dst=line)
        adaptive = _Adaptive(lv, dark)
    for pts in colors.trace + [colors.line]:
        if pts is not None:
            free[pts[1], pts[0]] = 0
    return free, colors, adaptive


def _label_regions(free: np.ndarray, gap_radius: int) -> tuple[np.ndarray, int]:
    """(HxW int32 labels, n): 4-connected regions of ``free``, split at gaps if gap_radius."""
    if gap_radius:
        return split_regions(free, gap_radius)
    n1, labels = connected_components(free, 4)
    return labels, n1 - 1


def _merge_region_specks(labels: np.ndarray, n: int, adaptive: _Adaptive, info: dict
                         ) -> tuple[int, np.ndarray, np.ndarray]:
    """Merge adaptive mode's speck regions in place; (n, speck pixels xs, ys)."""
    lv = adaptive.levels
    runs = label_runs(labels)
    speck, sx, sy = la.find_specks(labels, run_areas(runs, n), adaptive.dark,
                                   la.SPECK_MIN_DARK * (lv.paper - lv.ink), runs)
    if speck.any():
        lut, n = la.merge_specks(labels, speck, sx, sy)
        info["specks"], info["speck_pixels"] = int(speck.sum()), int(sx.size)
        # kept regions renumbered 1..n in their order (raster order of first pixel,
        # what labelling again would give), specks to their target: one in-place
        # gather instead of a second labelling ("clip": unbuffered; lut covers 0..n;
        # each element reads its index before it is overwritten)
        np.take(lut, labels, out=labels, mode="clip")
    return n, sx, sy


def _merge_trace_specks(labels: np.ndarray, n: int, n_regions: int,
                        cpts: list[Points | None], info: dict
                        ) -> tuple[int, np.ndarray, np.ndarray]:
    """Merge new color-line segments of <= SPECK_MAX_AREA px in place; (n, their xs, ys)."""
    # color-line pieces that became tiny segments of their own (compression fragments
    # of a trace line) are specks too; new segments are made of trace pixels only:
    # everything here is sparse
    px = np.concatenate([p[0] for p in cpts if p is not None])
    py = np.concatenate([p[1] for p in cpts if p is not None])
    plab = labels[py, px]
    areas = np.bincount(plab, minlength=n + 1)
    speck = np.zeros(n + 1, bool)
    speck[n_regions + 1:] = areas[n_regions + 1:] <= la.SPECK_MAX_AREA
    if not speck.any():
        empty = np.zeros(0, np.int64)
        return n, empty, empty
    sel = speck[plab]
    order = np.lexsort((px[sel], py[sel]))  # raster order
    tx, ty = px[sel][order], py[sel][order]
    lut, n = la.merge_specks(labels, speck, tx, ty)
    # lut is the identity on regions (1..n_regions): only trace pixels change
    labels[py, px] = lut[plab]
    info["specks"] += int(speck.sum())
    info["speck_pixels"] += int(tx.size)
    return n, tx, ty


def _pixel_classes(labels: np.ndarray, cpts: list[Points | None], sx: np.ndarray,
                   sy: np.ndarray) -> np.ndarray:
    """HxW uint8 PIXEL_* per pixel (trace pixels ``cpts``, speck pixels sx, sy)."""
    cls = np.where(labels == 0, PIXEL_LINE, PIXEL_REGION).astype(np.uint8)
    for pts in cpts:
        if pts is not None:
            cls[pts[1], pts[0]] = PIXEL_TRACE
    cls[sy, sx] = PIXEL_SPECK
    return cls


def equal_color_components(ids: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal ``ids`` among ``valid`` pixels.

    ids: HxW integer color ids; valid: HxW bool (False -> label 0). Returns (HxW int32
    labels 1..n in raster order of first pixel, n). Runs OpenCV's binary labelling on a
    (2H-1)x(2W-1) grid whose even/even nodes are pixels and whose odd nodes are the links
    between 4-neighbours, set only where both pixels are valid and of equal id.
    """
    h, w = ids.shape
    grid = np.zeros((2 * h - 1, 2 * w - 1), np.uint8)
    valid = valid != 0  # bool, also for a 0/1 mask
    grid[::2, ::2] = valid
    grid[::2, 1::2] = (ids[:, 1:] == ids[:, :-1]) & valid[:, 1:] & valid[:, :-1]
    grid[1::2, ::2] = (ids[1:, :] == ids[:-1, :]) & valid[1:, :] & valid[:-1, :]
    n1, lab = connected_components(grid, 4)
    # a component's first grid node in raster order is a pixel node, so pixel labels are
    # already consecutive and in the image's raster order
    return np.ascontiguousarray(lab[::2, ::2]), n1 - 1


def segment_frame(image: str | os.PathLike | np.ndarray, **kw) -> SegmentedFrame:
    """Read (if given a path) and segment line art -> SegmentedFrame.

    ``.line`` keeps the RGBA pixels as read; keywords go to :func:`segment_line_art`.
    """
    if isinstance(image, np.ndarray):
        rgba, path = as_rgba(image, gray=False), kw.pop("path", None)
    else:
        path = Path(image)
        rgba = read_image(path)
        kw.pop("path", None)
    labels, n, info, _ = segment_line_art_details(rgba, path=path, **kw)
    return SegmentedFrame(line=rgba, labels=labels, n_segments=n,
                          path=None if path is None else Path(path), line_art=info)


@_one_pixel
def segments_from_color(rgba: np.ndarray, *, path: str | os.PathLike | None = None
                        ) -> tuple[np.ndarray, int]:
    """Segments of a COLORED frame used without line art -> (HxW int32 labels, n).

    Line (0): opaque (alpha >= 128) pixels with R, G and B all <= 40. Opaque pure
    red/green/blue pixels are color lines, handled as in :func:`segment_line_art`. Every
    other pixel belongs to a region of 4-connected pixels with exactly equal RGBA; all
    fully transparent pixels count as one color whatever RGB they store.
    """
    a = as_rgba(rgba, gray=False)
    cpts = _color_line_points(a)
    u = a.view(np.uint32)[..., 0].copy()  # one id per RGBA color
    alpha = np.ascontiguousarray(a[..., 3])
    u[alpha == 0] = 0  # every transparent pixel: one color
    t = COLORED_FRAME_LINE_MAX
    line = cv2.inRange(a, (0, 0, 0, 128), (t, t, t, 255))  # 255 where line
    for pts in cpts:
        if pts is not None:
            line[pts[1], pts[0]] = 255
    labels, n = equal_color_components(u, line == 0)
    n = _label_color_lines(labels, int(n), cpts)
    if n == 0:
        raise DaconError(path, "no regions found (the image is all line)")
    _check_count(n, path)
    return labels, n
