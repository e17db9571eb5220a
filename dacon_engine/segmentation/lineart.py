"""Line / paper decisions for line art as it is really exported or scanned.

Two modes decide which pixels are line (see :func:`dacon_engine.segmentation.segments.segment_line_art`):

* ``fixed``: composited-on-white luminance <= ``threshold`` (default 128) is black line;
  exact PaintBucket / BasicPBC parity on clean, aliased art.
* ``adaptive``: for anti-aliased, resampled, JPEG-compressed or scanned art. Per image,
  the paper level ``Lp`` (the histogram mode) and its noise, and the ink level ``Li`` (a
  low percentile of the clearly dark pixels) are estimated; with darkness ``d = Lp - Y``
  and contrast ``D = Lp - Li`` a pixel is line where ``d >= weak`` and either
  ``d >= D/2`` (strong) or ``d >= max(3x3 neighbourhood d) / 2`` -- at least half as dark as
  the darkest pixel next to it, so a light 1-px anti-aliased line (whose core is its own
  local maximum) stays whole and closed while the soft fringe of a dark line does not
  widen it. ``weak`` = max(0.12 D, 5 noise + 6). 8-connected line pieces without a
  strong pixel (paper noise, JPEG ringing) are dropped (hysteresis), unless they hold
  a trace or line-color pixel (a light red line has no strong pixel) or have at least
  ``HYST_MIN_PIECE`` pixels (a faint line, not noise); then, in order
  (:func:`adaptive_lines`): candidate pixels of such seeded pieces next to a trace
  pixel become trace (:func:`_seeded_trace`); line pixels that are a valley of
  darkness across -- a 1- or 2-px gap between two lines, lighter than both sides by
  ``VALLEY_MIN_DEPTH`` D, and no 1- or 2-px ridge along it -- go back to paper
  (:func:`open_valleys`: thin regions pinched by blur stay whole); and paper pixels
  between two line pixels that are a ramp, not a valley -- where a light line runs
  into a dark one and its last pixel fell under half the dark core -- become line or
  trace (:func:`bridge_gaps`). After labelling, tiny regions are specks (merged into
  the nearest region, :func:`find_specks`) unless they are a thin valley between two
  lines (``SLIVER_MIN_DEPTH``: a real sliver region).
* ``learned`` (opt-in): ``adaptive``, overruled where the shipped line extractor is
  sure (:mod:`dacon_engine.segmentation.lineextractor`).
* ``auto`` (default): ``fixed`` when the image is clean -- (almost) every pixel is either
  paper at one exact level, or ink; no anti-aliasing ramps, noise or compression
  artefacts -- else ``adaptive``. The JSON record says which was used.

Color lines (trace lines). Every pixel is seen as ink absorbed from the paper: with the
paper color ``P`` (white in ``fixed`` mode, estimated in ``adaptive``) the absorption
``v = P - pixel`` of a color line of color ``c`` at coverage ``a`` is ``a (P - c)``, so its
direction says WHICH ink (hue and saturation) and its length how much (coverage),
whatever the anti-aliasing. A pixel belongs to the ink (black, a trace color, or a user
line color) whose absorption direction is nearest, if within ``TRACE_TOLERANCE_DEG``; a
trace-color pixel is a color line when its coverage is >= 0.5 (``fixed``; for pure
colors the same as alpha >= 128) or, in ``adaptive`` mode, >= 0.15 in an 8-connected
piece reaching 0.3 (the soft fringe counts as trace line too: it is merged into a
region like the line itself; a thin-line rule as for black was tried and left out, it
leaves JPEG fringe pieces as extra regions). Default trace colors: red, blue, green (BasicPBC's order).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .. import options
from ..colors import DEFAULT_TRACE_COLORS, RGB, ink_colors
from ..options import LINE_MODES
from .components import label_runs, point_components

TRACE_TOLERANCE_DEG = 20.0
"""Largest angle between a pixel's absorption and an ink's (degrees)."""

CLEAN_MAX_MID = 0.002
"""clean-image test (:func:`is_clean`): share of the pixels allowed to be neither paper
(exactly its level) nor ink / pure color ..."""
MID_LO, MID_HI = 24, 231
"""... where "in between" is this grey band (luminance, inclusive)."""
SPECK_MAX_AREA = 9
"""adaptive mode: regions of <= this many px are specks (merged, never colored alone)."""
SPECK_MIN_DARK = 0.15
"""adaptive mode: ... mean darkness (share of the ink contrast) of a thin speck."""
SPECK_THIN_MAX_AREA = 40
"""adaptive mode: regions of <= this many px that a 3x3 erosion removes (nowhere wider
than 2 px: slivers along lines, holes in thick strokes) are specks too."""


_SCRATCH = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
    """This thread's reusable, uninitialised array ``name`` of this shape and dtype, for
    temporaries that never leave a call: a fresh full-size array costs first-touch page
    faults (about 1 ms per 1920x1920 uint8 plane), more than most filters run on it.
    One array per name is kept (the latest shape asked for)."""
    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    buf = bufs.get(name)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
        buf = bufs[name] = np.empty(shape, dtype)
    return buf


def at_least(a: np.ndarray, value: float) -> np.ndarray:
    """255 where ``a >= value``, else 0 (uint8 mask). cv2.compare with a scalar, except for
    images of up to 4 pixels, which OpenCV would mistake for a scalar themselves."""
    if a.size > 4:
        return cv2.compare(a, float(value), cv2.CMP_GE)
    return np.where(a >= value, 255, 0).astype(np.uint8)


@dataclass(frozen=True)
class LineRules:
    """How line pixels are decided, resolved (see the module docstring): the mode, the
    fixed mode's threshold and the trace / line colors as RGB tuples."""

    mode: str = "auto"
    threshold: int = 128
    trace_colors: tuple[RGB, ...] = DEFAULT_TRACE_COLORS
    line_colors: tuple[RGB, ...] = ()

    @classmethod
    def make(cls, line_options: options.LineOptions | None = None,
             threshold: int = 128) -> "LineRules":
        """The rules for these line options (None = the defaults) and fixed-mode
        threshold; raises ValueError on an unknown mode, a threshold outside 0..255 or a
        color that is not one (or is white)."""
        line = options.LineOptions() if line_options is None else line_options
        if line.mode not in LINE_MODES:
            raise ValueError(f"line mode {line.mode!r}: use one of {', '.join(LINE_MODES)}")
        if not 0 <= int(threshold) <= 255:
            raise ValueError(f"threshold must be in 0..255, got {threshold}")
        return cls(line.mode, int(threshold),
                   ink_colors(line.trace_colors, DEFAULT_TRACE_COLORS),
                   ink_colors(line.line_colors, ()))


def composite_rgb(rgba: np.ndarray) -> np.ndarray:
    """HxWx4 uint8 -> HxWx3 uint8 composited on white (rounded)."""
    rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    alpha = cv2.extractChannel(rgba, 3)
    if cv2.minMaxLoc(alpha)[0] >= 255:
        return rgb
    a3 = cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)
    out = cv2.multiply(rgb, a3, scale=1.0 / 255.0)
    return cv2.add(out, cv2.bitwise_not(a3))


def is_clean(gray: np.ndarray, exempt: int = 0, hist: np.ndarray | None = None) -> bool:
    """True when the composited luminance is two-level-like: (almost) no pixel lies
    strictly between ink and paper (grey 24..231), and the paper is one exact level (no
    pixel within 12 levels of it). At most 0.2 % of the pixels may break each rule.

    exempt: how many pixels are exactly a trace or line color (legitimately mid-grey);
    hist: :func:`gray_histogram` of ``gray`` when already computed.
    """
    n = gray.size
    if hist is None:
        hist = gray_histogram(gray)
    mid = hist[MID_LO:MID_HI + 1].sum() - exempt
    if mid > CLEAN_MAX_MID * n:
        return False
    lp = int(np.argmax(hist))
    # the paper is one level: its near neighbours are (almost) empty
    near = hist[max(lp - 12, 0):lp + 13].sum() - hist[lp]
    return bool(near <= CLEAN_MAX_MID * n)


@dataclass
class PaperInk:
    """Per-image levels for adaptive mode."""

    paper: int              # luminance of the paper (histogram mode)
    paper_rgb: np.ndarray   # (3,) float32
    noise: float            # paper noise (luminance std. dev. estimate)
    ink: int                # luminance of the line cores
    strong: int             # darkness (Lp - Y) at or above which a pixel is surely line
    weak: int               # darkness below which a pixel is surely paper

    def record(self) -> dict:
        return {"paper": self.paper, "paper_rgb": [round(float(v), 1) for v in self.paper_rgb],
                "noise": round(self.noise, 2), "ink": self.ink, "strong": self.strong,
                "weak": self.weak}


def gray_histogram(gray: np.ndarray) -> np.ndarray:
    """(256,) float32 histogram of HxW uint8 luminance."""
    return cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()


def estimate_levels(rgb: np.ndarray, gray: np.ndarray, hist: np.ndarray | None = None
                    ) -> PaperInk:
    """Paper and ink levels of composited line art (see the module docstring).

    hist: :func:`gray_histogram` of ``gray`` when already computed. The paper color is
    the mean over the paper-level pixels of every 4th row (a noise-level average needs
    no more).
    """
    if hist is None:
        hist = gray_histogram(gray)
    lp = int(np.argmax(hist[64:])) + 64  # paper: the most common light level
    lo, hi = max(lp - 30, 0), min(lp + 30, 255)
    win = hist[lo:hi + 1]
    cdf = np.cumsum(win) / max(win.sum(), 1.0)
    q16, q50, q84 = (int(np.searchsorted(cdf, q)) for q in (0.16, 0.5, 0.84))
    # one-sided (bright half) spread: the dark half holds anti-aliasing ramps too
    noise = max(float(q84 - q50), 0.5)
    step = 4 if gray.shape[0] >= 64 else 1
    # (strided views: OpenCV reads every 4th row in place, no copies)
    mask = cv2.inRange(gray[::step], max(lp - 2 * noise - 1, 0), min(lp + 2 * noise + 1, 255))
    paper_rgb = np.array(cv2.mean(rgb[::step], mask=mask)[:3], np.float32)
    dark_lim = lp - max(6.0 * noise, 40.0)
    ink = 0
    if dark_lim > 0:
        dh = hist[:int(dark_lim)]
        if dh.sum() > 0:
            ink = int(np.searchsorted(np.cumsum(dh) / dh.sum(), 0.10))
        else:
            ink = int(dark_lim)
    contrast = max(lp - ink, 1)
    strong = max(contrast // 2, 1)
    weak = int(min(max(0.12 * contrast, 5.0 * noise + 6.0), strong))
    return PaperInk(lp, paper_rgb, noise, ink, strong, weak)


def darkness(gray: np.ndarray, lv: PaperInk) -> np.ndarray:
    """HxW uint8 darkness ``Lp - Y`` (saturating at 0)."""
    if gray.size <= 4:  # (cv2 would take so small an image for a scalar)
        return cv2.subtract(np.full_like(gray, lv.paper), gray)
    d = cv2.bitwise_not(gray)  # 255 - Y, less 255 - Lp: no second full-size plane
    return cv2.subtract(d, 255 - lv.paper, dst=d)


def _line_candidates(dark: np.ndarray, lv: PaperInk) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, strong) uint8 255/0 masks of adaptive mode (module docstring); strong
    is a scratch plane (valid until the next call)."""
    shape = dark.shape
    if dark.size <= 4:  # (cv2.compare would take so small an image for a scalar)
        strong = at_least(dark, lv.strong)
        weak = at_least(dark, lv.weak)
    else:
        strong = cv2.compare(dark, float(lv.strong), cv2.CMP_GE, dst=scratch("strong", shape))
        weak = cv2.compare(dark, float(lv.weak), cv2.CMP_GE, dst=scratch("t0", shape))
    localmax = cv2.dilate(dark, np.ones((3, 3), np.uint8), dst=scratch("t1", shape))
    twice = cv2.add(dark, dark, dst=scratch("t2", shape))
    half = cv2.compare(twice, localmax, cv2.CMP_GE, dst=twice)  # 2d >= max (no overflow
    # issue: saturation at 255 only where d >= 128, i.e. surely >= half of any max)
    cand = cv2.bitwise_and(weak, half)
    cv2.bitwise_or(cand, strong, dst=cand)  # strong >= weak: strong pixels are candidates
    return cand, strong


HYST_SPARSE_MAX = 12000
"""adaptive mode: up to this many soft pixels are grouped into pieces from their list
(cost by pixel count); more by a full-frame labelling (cost by frame size)."""


def _point_groups(xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(N,) ids >= 1 of the 8-connected groups of pixels (xs, ys) (raster order, no
    repeats): from the list when at most HYST_SPARSE_MAX, else by labelling a plane."""
    if xs.size <= HYST_SPARSE_MAX:
        return point_components(xs, ys, shape[1])
    plane = scratch("t0", shape)
    plane.fill(0)
    plane[ys, xs] = 255
    lab = scratch("labels", shape, np.int32)
    cv2.connectedComponentsWithAlgorithm(plane, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI, labels=lab)
    return lab[ys, xs]


def _hysteresis(cand: np.ndarray, strong: np.ndarray,
                seeds: list[tuple[np.ndarray, np.ndarray] | None] = (),
                pts: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray,
                           np.ndarray]:
    """Drop, in place, the 8-connected pieces of ``cand`` with no strong pixel, no seed
    pixel and fewer than HYST_MIN_PIECE pixels. seeds: per seed class (xs, ys) or None;
    pts: (N, 2) xy of the candidate pixels in raster order, when already listed.

    Returns (cand, soft (S, 2) xy of the soft -- candidate, not strong -- pixels kept or
    None, their piece's seed counts (S, K) or None when no soft piece holds a seed but
    no strong pixel, strong-piece flag (S,) bool, (M, 2) xy of the candidates kept).
    Only the soft pixels can lie in a piece without a strong pixel: they are grouped
    and cleared sparsely.
    """
    h, w = cand.shape
    if pts is None:
        pts = _nonzero_xy(cand)
    flat = pts[:, 1] * w + pts[:, 0]
    is_soft = strong.ravel().take(flat) == 0
    soft = pts[is_soft]
    if soft.shape[0] == 0:
        return cand, None, None, np.zeros(0, bool), pts
    sx, sy = soft[:, 0], soft[:, 1]
    # label the soft pixels alone: a soft piece 8-adjacent to a strong pixel is part of
    # a piece with one (no need to list the many strong pixels)
    if soft.shape[0] <= HYST_SPARSE_MAX:
        sl = point_components(sx, sy, w)  # (raster order: as _point_groups would)
        n1 = int(sl.max()) + 1
        skey = flat[is_soft]

        def label_at(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
            key = ys.astype(np.int64) * w + xs
            pos = np.minimum(np.searchsorted(skey, key), skey.size - 1)
            return np.where(skey[pos] == key, sl[pos], 0)
    else:
        softm = cv2.bitwise_xor(cand, strong, dst=scratch("t0", (h, w)))
        n1, lab = cv2.connectedComponentsWithAlgorithm(
            softm, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI,
            labels=scratch("labels", (h, w), np.int32))
        sl = lab[sy, sx]

        def label_at(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
            return lab[ys, xs]
    touch = cv2.dilate(strong, np.ones((3, 3), np.uint8),
                       dst=scratch("t1", (h, w)))[sy, sx] > 0
    keep = np.zeros(n1, bool)
    keep[sl[touch]] = True
    counts = np.zeros((n1, max(len(seeds), 1)), np.int64)
    for k, sp in enumerate(seeds):
        if sp is not None:
            counts[:, k] = np.bincount(label_at(sp[0], sp[1]), minlength=n1)
    counts[0] = 0
    seeded = ~keep & (counts.sum(1) > 0)
    big = np.bincount(sl, minlength=n1) >= HYST_MIN_PIECE  # pixels per soft piece
    big[0] = False
    drop = ~(keep | seeded | big)[sl]
    if drop.any():
        cand[sy[drop], sx[drop]] = 0
        soft, sl = soft[~drop], sl[~drop]
        gone = np.zeros(pts.shape[0], bool)
        gone[np.flatnonzero(is_soft)[drop]] = True
        pts = pts[~gone]
    return cand, soft, counts[sl] if seeded.any() else None, keep[sl], pts


def _add_points(pts: tuple[np.ndarray, np.ndarray] | None, xs: np.ndarray, ys: np.ndarray,
                width: int) -> tuple[np.ndarray, np.ndarray]:
    """Union of a raster-ordered point set and more points (raster order, none of them
    in the set already), in raster order: a stable sort of two sorted runs, O(N)."""
    key = ys.astype(np.int64) * width + xs
    if pts is not None:
        key = np.concatenate([pts[1].astype(np.int64) * width + pts[0], key])
        key.sort(kind="stable")
    y, x = np.divmod(key, width)
    return x, y


_PAIRS = (((0, -1), (0, 1)), ((-1, 0), (1, 0)), ((-1, -1), (1, 1)), ((-1, 1), (1, -1)))
"""Opposite 8-neighbours (dy, dx): left/right, up/down, the two diagonals."""


VALLEY_MIN_DEPTH = 0.1
"""adaptive mode: a line pixel this much (share of the ink contrast) lighter than both
of two opposite neighbours is paper between two lines (see :func:`open_valleys`)."""
HYST_MIN_PIECE = 16
"""adaptive mode: a candidate line piece of at least this many pixels is kept without a
strong pixel: a faint line (JPEG 70 leaves a 1-px red line neither dark nor colored
enough), not paper noise or ringing, which come in small pieces."""


def _padded(a: np.ndarray, r: int, border: int, name: str) -> np.ndarray:
    """``a`` with an ``r``-px border (cv2 border type; constant 0), into scratch ``name``."""
    h, w = a.shape
    out = scratch(name, (h + 2 * r, w + 2 * r), a.dtype)
    cv2.copyMakeBorder(a, r, r, r, r, border, dst=out, value=0)
    return out


def _flat_index(xs: np.ndarray, ys: np.ndarray, width: int, r: int) -> np.ndarray:
    """Flat indices of pixels (xs, ys) in an ``r``-px padded copy of a ``width``-wide image."""
    return (ys.astype(np.int64) + r) * (width + 2 * r) + (xs.astype(np.int64) + r)


def _valleys_at(dflat: np.ndarray, wp: int, idx: np.ndarray, depth: float, ridge: float,
                weak: float) -> np.ndarray:
    """(N,) bool: which pixels (flat indices ``idx`` into a 2-px replicate-padded darkness,
    ``wp`` wide) are a valley and no ridge (see :func:`open_valleys`)."""
    def at(off: int) -> np.ndarray:
        return dflat.take(idx + off).astype(np.int16)

    thresh = float(np.ceil(depth) - 1)  # > thresh <=> >= depth, for whole levels
    d0 = at(0)
    steps = (1, wp, wp + 1, wp - 1)  # along _PAIRS: right, down, down-right, down-left
    valley = []
    for i, e in enumerate(steps):  # 1-px valley across direction i
        m1, p1 = at(-e), at(e)
        v = np.maximum(np.minimum(m1, p1) - d0, 0) > thresh
        if i < 2:  # 2-px valleys: with the next pixel towards +e, or towards -e
            m2, p2 = at(-2 * e), at(2 * e)
            v |= np.maximum(np.minimum(m1, p2) - np.maximum(d0, p1), 0) > thresh
            v |= np.maximum(np.minimum(m2, p1) - np.maximum(m1, d0), 0) > thresh
        valley.append(v)
    hit = np.flatnonzero(valley[0] | valley[1] | valley[2] | valley[3])
    opened = np.zeros(idx.size, bool)
    if hit.size == 0:
        return opened
    idx, d0 = idx[hit], d0[hit]
    got = np.zeros(hit.size, bool)
    for i, j in ((0, 1), (1, 0), (2, 3), (3, 2)):  # valley direction, its perpendicular
        e = steps[j]
        m1, p1, m2, p2 = at(-e), at(e), at(-2 * e), at(2 * e)
        ridged = ((d0 - np.maximum(m1, p1) >= ridge)
                  | (np.minimum(d0, p1) - np.maximum(m1, p2) >= ridge)
                  | (np.minimum(d0, m1) - np.maximum(p1, m2) >= ridge))
        # along a gap its neighbours are gap too: paper (under ``weak``) on one side and
        # a line on the other, each ``depth`` away, is a ramp across a line -- the
        # "valley" is a lighter spot along a line that runs beside another one, and
        # opening it would cut that line
        lighter, darker = np.minimum(m1, p1), np.maximum(m1, p1)
        along = (lighter >= weak) | (d0 - lighter < depth) | (darker - d0 < depth)
        got |= valley[i][hit] & ~ridged & along
    opened[hit] = got
    return opened


def open_valleys(line: np.ndarray, dark: np.ndarray, depth: float, ridge: float,
                 weak: float = 0.0, pts: np.ndarray | None = None) -> int:
    """Give back to paper the line pixels that are a valley of darkness: a 1- or 2-px
    gap between two lines that blur made dark enough to be taken as line (a thin region
    then vanished, or broke into pieces). A pixel is a valley when it is at least
    ``depth`` lighter than both of two opposite neighbours (left/right, up/down, a
    diagonal), or, with its left/right or up/down neighbour, than the two pixels
    flanking that pair; and not at the same time a ridge across: at least ``ridge`` darker than
    both neighbours in the perpendicular direction, or with its neighbour there at
    least ``ridge`` darker than the two pixels flanking the pair (a lighter spot on the
    core of a 1- or 2-px line is a valley along the line but a ridge across it, and
    stays line; a 1-px region between two lines is no ridge along its length).

    line: HxW uint8 255/0, modified in place; returns the pixels opened. Outside the
    image counts as its edge pixel (no valley at the border). Only the line pixels are
    examined (``pts``: their (N, 2) xy when already listed), on a padded darkness.
    """
    if pts is None:
        pts = _nonzero_xy(line)
    return int(_open_valleys(line, dark, depth, ridge, weak, pts).sum())


def _open_valleys(line: np.ndarray, dark: np.ndarray, depth: float, ridge: float,
                  weak: float, pts: np.ndarray) -> np.ndarray:
    """:func:`open_valleys` on the line pixels ``pts`` ((N, 2) xy); (N,) bool opened."""
    h, w = line.shape
    if h < 3 or w < 3 or pts.shape[0] == 0:
        return np.zeros(pts.shape[0], bool)
    dpad = _padded(dark, 2, cv2.BORDER_REPLICATE, "dark_pad")
    opened = _valleys_at(dpad.ravel(), w + 4, _flat_index(pts[:, 0], pts[:, 1], w, 2),
                         depth, ridge, weak)
    if opened.any():
        line[pts[opened, 1], pts[opened, 0]] = 0
    return opened


def _nonzero_xy(mask: np.ndarray) -> np.ndarray:
    """(N, 2) int64 xy of the nonzero pixels of a uint8 mask, in raster order: a view of
    this thread's scratch (valid until the next call), so that the lists of a frame's
    line pixels (a few MB) are not faulted in afresh each frame."""
    n = cv2.countNonZero(mask)
    if n == 0:
        return np.zeros((0, 2), np.int64)
    cap = max(n, mask.size // 64)  # grows rarely: one size fits most frames
    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    raw, out = bufs.get("nonzero32"), bufs.get("nonzero64")
    if raw is None or out is None or raw.shape[0] < n or out.shape[0] < n:
        raw = scratch("nonzero32", (cap, 1, 2), np.int32)
        out = scratch("nonzero64", (cap, 2), np.int64)
    pts = cv2.findNonZero(mask, idx=raw[:n])
    out = out[:n]
    out[:] = pts.reshape(-1, 2)
    return out


def bridge_gaps(line: np.ndarray, trace: list[tuple[np.ndarray, np.ndarray] | None],
                dark: np.ndarray, weak: int, margin: float, pts: np.ndarray | None = None
                ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray] | None], int]:
    """Close 1-px gaps where a light line meets a dark one.

    Next to a dark line's core, the last pixel of a light line running into it (an
    anti-aliased or JPEG'd red trace line, a light 1-px stroke) is less than half as
    dark as that core, so not line, and the regions on both sides of the light line
    joined through it. A pixel that is neither line nor trace, at least ``weak`` dark,
    between two line/trace pixels on opposite sides (left/right, up/down or a diagonal)
    and at least as dark as the lighter of the two less ``margin`` -- a ramp from the
    light line into the dark one, not a valley (a 1-px region between two lines is
    lighter than both) -- becomes line, or trace of that color where either of the two
    is trace.

    line: HxW uint8 255/0 (modified in place); trace: per color (xs, ys) in raster
    order or None; pts: (N, 2) xy of the line pixels when already listed. Returns
    (line, trace, pixels bridged). Only the neighbours of line and trace pixels are
    examined: from each, the pixel next to it and the one after that.
    """
    h, w = line.shape
    if h < 3 or w < 3:
        return line, trace, 0
    if pts is None:
        pts = _nonzero_xy(line)
    # occupancy code on a 2-px zero border: 255 line, k + 1 trace color k (wins)
    occ = _padded(line, 2, cv2.BORDER_CONSTANT, "occ_pad")
    wp = w + 4
    of = occ.ravel()
    srcs = [_flat_index(pts[:, 0], pts[:, 1], w, 2)]
    for k, p in enumerate(trace):
        if p is not None:
            ti = _flat_index(p[0], p[1], w, 2)
            of[ti] = k + 1
            srcs.append(ti)
    src = np.concatenate(srcs)
    dflat = _padded(dark, 2, cv2.BORDER_REPLICATE, "dark_pad").ravel()
    qs, cs = [], []
    for e in (1, wp, wp + 1, wp - 1):  # q = p + e between p and p + 2e
        q = src + e
        sel = (of.take(q) == 0) & (of.take(q + e) > 0)
        q = q[sel]
        dq = dflat.take(q).astype(np.float32)
        ca, cb = of.take(q - e), of.take(q + e)
        lo = np.minimum(dflat.take(q - e), dflat.take(q + e)).astype(np.float32)
        ok = (dq >= weak) & (dq >= lo - margin)
        c = np.maximum(np.where(ca == 255, 0, ca), np.where(cb == 255, 0, cb))
        qs.append(q[ok])
        cs.append(c[ok])
    q = np.concatenate(qs)
    if q.size == 0:
        return line, trace, 0
    uq, inv = np.unique(q, return_inverse=True)  # raster order
    color = np.zeros(uq.size, np.int64)
    np.maximum.at(color, inv, np.concatenate(cs).astype(np.int64))
    ys, xs = np.divmod(uq, wp)
    xs, ys = xs - 2, ys - 2
    out = list(trace)
    for k in range(len(trace)):
        sel = color == k + 1
        if sel.any():
            out[k] = _add_points(out[k], xs[sel], ys[sel], w)
    black = color == 0
    line[ys[black], xs[black]] = 255
    return line, out, int(uq.size)


def adaptive_lines(rgb: np.ndarray, gray: np.ndarray, lv: PaperInk, rules: LineRules,
                   dark: np.ndarray | None = None) -> tuple[np.ndarray, ColorPixels]:
    """Adaptive mode: (HxW uint8 255/0 line mask, color-classified pixels).

    Line candidates (:func:`darkness` levels) kept by hysteresis, which is also seeded by
    the trace and line-color pixels (:func:`classify_colors`): a light colored line (red's luminance
    is 76, so an anti-aliased or JPEG'd 1-px red line has no strong pixel) keeps the
    candidate pixels around its colored ones. In a piece with no strong (black) pixel,
    a candidate pixel next to a trace pixel becomes trace line of that color: where
    JPEG's halved chroma leaves a colored line's pixels nearer grey than their hue, the
    line stays whole and closed (instead of gaps that joined the regions on both sides,
    or pieces that became segments of their own).
    """
    if dark is None:
        dark = darkness(gray, lv)
    colors = classify_colors(rgb, rules, lv.paper_rgb, float(lv.ink), adaptive=True)
    cand, strong = _line_candidates(dark, lv)
    cand, soft, counts, _, pts = _hysteresis(cand, strong,
                                             list(colors.trace) + [colors.line])
    if counts is not None:
        colors = _seeded_trace(colors, soft, counts, gray.shape)
    contrast = float(lv.paper - lv.ink)
    opened = _open_valleys(cand, dark, max(VALLEY_MIN_DEPTH * contrast, 2.0 * lv.noise + 2.0),
                           max(0.05 * contrast, 2.0 * lv.noise + 2.0), lv.weak, pts)
    margin = max(2.0 * lv.noise, 0.04 * contrast)
    cand, trace, _ = bridge_gaps(cand, colors.trace, dark, lv.weak, margin, pts[~opened])
    return cand, ColorPixels(trace, colors.line)


def _seeded_trace(colors: ColorPixels, soft: np.ndarray, counts: np.ndarray,
                  shape: tuple[int, int]) -> ColorPixels:
    """Soft pixels (S, 2) of pieces without a strong pixel but with seeds (their seed
    counts (S, K)) next to a trace pixel become trace of that color."""
    seeded = counts.sum(1) > 0
    if not seeded.any():
        return colors
    nt = len(colors.trace)
    # which trace color (1..nt) lies next to each pixel (0: none; the later color wins
    # where two meet)
    h, w = shape
    near = np.zeros((h, w), np.uint8)
    for k, p in enumerate(colors.trace):
        if p is not None:
            near[p[1], p[0]] = k + 1
    if colors.line is not None:
        near[colors.line[1], colors.line[0]] = 255
    own = near[soft[:, 1], soft[:, 0]]  # already a trace or line-color pixel
    if colors.line is not None:
        near[colors.line[1], colors.line[0]] = 0
    near = cv2.dilate(near, np.ones((3, 3), np.uint8))
    got = near[soft[:, 1], soft[:, 0]].astype(np.int64)
    add = seeded & (own == 0) & (got > 0)
    trace = list(colors.trace)
    for k in range(nt):
        sel = add & (got == k + 1)
        if sel.any():
            trace[k] = _add_points(trace[k], soft[sel, 0].astype(np.int64),
                                   soft[sel, 1].astype(np.int64), w)
    return ColorPixels(trace, colors.line)


@dataclass
class ColorPixels:
    """Color-classified pixels: per trace color its (xs, ys) in raster order (or None),
    and the (xs, ys) of user line-color pixels (or None)."""

    trace: list[tuple[np.ndarray, np.ndarray] | None]
    line: tuple[np.ndarray, np.ndarray] | None


def classify_colors(rgb: np.ndarray, rules: LineRules, paper_rgb: np.ndarray | None,
                    ink: float, adaptive: bool) -> ColorPixels:
    """Find trace-line and user line-color pixels by absorption direction (module doc).

    rgb: HxWx3 uint8 composited on white; paper_rgb: (3,) paper color (None = white);
    ink: luminance of black ink (its absorption is ``paper - ink`` in every channel).
    """
    colors = list(rules.trace_colors) + list(rules.line_colors)
    none = ColorPixels([None] * len(rules.trace_colors), None)
    if not colors:
        return none
    p = np.full(3, 255.0, np.float32) if paper_rgb is None else np.asarray(paper_rgb, np.float32)
    dirs = np.array([p - ink] + [p - np.asarray(c, np.float32) for c in colors], np.float32)
    # candidates: absorption chroma (max - min channel) >= half the least chroma of a color
    # (fixed), or a fraction of it above the noise (adaptive)
    chroma_c = dirs[1:].max(1) - dirs[1:].min(1)
    pv = tuple(float(v) for v in np.clip(np.rint(p), 0, 255))
    shape = rgb.shape[:2]
    if adaptive:
        v = cv2.bitwise_not(rgb, dst=scratch("absorption", rgb.shape))
        cv2.subtract(v, (255 - pv[0], 255 - pv[1], 255 - pv[2], 0), dst=v)
    else:  # white paper: absorption chroma = chroma of the pixel itself
        v = rgb
    # into this thread's scratch planes, reused below (fresh planes per step cost
    # several times the arithmetic at 1920x1920: first-touch page faults)
    c = [scratch(f"t{i}", shape) for i in range(3)]
    cv2.split(v, c)
    ch = cv2.max(c[0], c[1], dst=scratch("t3", shape))
    cv2.max(ch, c[2], dst=ch)
    cv2.min(c[0], c[1], dst=c[0])
    cv2.min(c[0], c[2], dst=c[0])
    cv2.subtract(ch, c[0], dst=ch)
    lim = 0.15 if adaptive else 0.5
    cmin = max(float(chroma_c.min()) * lim * 0.8, 12.0 if adaptive else 1.0)
    cand = at_least(ch, cmin) if ch.size <= 4 else cv2.compare(ch, cmin, cv2.CMP_GE, dst=ch)
    if not cv2.countNonZero(cand):
        return none
    pts = cv2.findNonZero(cand).reshape(-1, 2)  # row by row: already in raster order
    xs, ys = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    # signed absorption (float, not clipped) of the candidates
    vv = p[None, :] - rgb.reshape(-1, 3).take(ys * rgb.shape[1] + xs, axis=0).astype(np.float32)
    norm_d = np.linalg.norm(dirs, axis=1)
    norm_v = np.maximum(np.linalg.norm(vv, axis=1), 1e-6)
    # (N, K+1) dot products, spelt out: a BLAS matmul of so thin a matrix ran on BLAS's
    # thread pool and took 15 ms instead of 1 on a busy 2-core machine
    dots = vv[:, :1] * dirs[:, 0] + vv[:, 1:2] * dirs[:, 1] + vv[:, 2:3] * dirs[:, 2]
    cos = dots / (norm_v[:, None] * np.maximum(norm_d[None, :], 1e-6))
    best = np.argmax(cos, axis=1)
    cov = dots[np.arange(best.size), best] / np.maximum(norm_d[best] ** 2, 1e-6)
    ok = cos[np.arange(best.size), best] >= np.cos(np.deg2rad(TRACE_TOLERANCE_DEG))
    nt = len(rules.trace_colors)
    trace: list[tuple[np.ndarray, np.ndarray] | None] = []
    for k in range(nt):
        sel = ok & (best == k + 1) & (cov >= lim)
        if adaptive and sel.any():
            cid = _point_groups(xs[sel], ys[sel], shape)
            good = np.zeros(int(cid.max()) + 1, bool)
            good[cid[cov[sel] >= 0.3]] = True
            idx = np.flatnonzero(sel)[good[cid]]
            sel = np.zeros_like(sel)
            sel[idx] = True
        trace.append((xs[sel], ys[sel]) if sel.any() else None)
    line_sel = ok & (best > nt) & (cov >= (0.3 if adaptive else 0.5))
    line = (xs[line_sel], ys[line_sel]) if line_sel.any() else None
    return ColorPixels(trace, line)


_SPECK_RADIUS = 3
_OFFSETS = sorted(((dy, dx) for dy in range(-_SPECK_RADIUS, _SPECK_RADIUS + 1)
                   for dx in range(-_SPECK_RADIUS, _SPECK_RADIUS + 1) if dy or dx),
                  key=lambda o: (o[0] * o[0] + o[1] * o[1], o))


SLIVER_MIN_DEPTH = 0.4
"""adaptive mode: a thin small region whose deepest pixel is this much (share of the
ink contrast) lighter than the lighter of two opposite neighbours ..."""
SLIVER_MIN_MEAN_DEPTH = 0.15
"""... and whose pixels are on average this much lighter, is a sliver of paper between
two lines (a real region), not a speck."""


def valley_depth(dark: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(N,) float32: how much lighter each pixel (xs, ys) is than the lighter of two
    opposite 8-neighbours, the most over left/right, up/down and the two diagonals
    (darkness levels; 0 where it is no valley). Border pixels compare with themselves."""
    h, w = dark.shape
    d = dark[ys, xs].astype(np.float32)
    out = np.zeros(xs.size, np.float32)
    for (ay, ax), (by, bx) in _PAIRS:
        a = dark[np.clip(ys + ay, 0, h - 1), np.clip(xs + ax, 0, w - 1)]
        b = dark[np.clip(ys + by, 0, h - 1), np.clip(xs + bx, 0, w - 1)]
        np.maximum(out, np.minimum(a, b).astype(np.float32) - d, out=out)
    return out


def _valleys(labels: np.ndarray, dark: np.ndarray, sid: np.ndarray, xs: np.ndarray,
             ys: np.ndarray, n: int, which: np.ndarray, areas: np.ndarray, contrast: float
             ) -> np.ndarray:
    """(n+1,) bool: the regions in ``which`` that are slivers of paper between two lines
    (SLIVER_MIN_DEPTH, SLIVER_MIN_MEAN_DEPTH). sid, xs, ys: the small regions' pixels."""
    out = np.zeros(n + 1, bool)
    sel = which[sid]
    if not sel.any() or contrast <= 0:
        return out
    dep = valley_depth(dark, xs[sel], ys[sel]) / contrast
    s = sid[sel]
    top = np.zeros(n + 1, np.float32)
    np.maximum.at(top, s, dep)
    mean = np.bincount(s, weights=dep, minlength=n + 1) / np.maximum(areas, 1)
    return which & (top >= SLIVER_MIN_DEPTH) & (mean >= SLIVER_MIN_MEAN_DEPTH)


def find_specks(labels: np.ndarray, areas: np.ndarray, dark: np.ndarray | None = None,
                min_dark: float = 0.0, runs: tuple[np.ndarray, np.ndarray, np.ndarray] | None
                = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speck regions: <= SPECK_MAX_AREA px, or <= SPECK_THIN_MAX_AREA px and thin (area
    <= 2 x the longer side of its bounding box: nowhere much wider than 2 px).

    Returns ((n+1,) bool per label, xs, ys of the speck pixels, raster order). Only the
    pixels of small regions are examined: they are expanded from the label map's
    row-major runs (``runs``: :func:`dacon_engine.segmentation.components.label_runs`, computed when
    not given), no full-size lookup.
    """
    n = areas.size - 1
    small = areas <= max(SPECK_MAX_AREA, SPECK_THIN_MAX_AREA)
    small[0] = False
    speck = np.zeros(n + 1, bool)
    empty = np.zeros(0, np.int64)
    if not small.any():
        return speck, empty, empty
    starts, lengths, run_lab = label_runs(labels) if runs is None else runs
    sel = small[run_lab]
    st, ln = starts[sel], lengths[sel]
    offs = np.cumsum(ln) - ln  # where each selected run begins in the output
    idx = np.repeat(st - offs, ln) + np.arange(int(ln.sum()), dtype=np.int64)
    w = labels.shape[1]
    ys, xs = np.divmod(idx, w)
    sid = np.repeat(run_lab[sel].astype(np.int64), ln)
    big = np.iinfo(np.int64).max
    x0 = np.full(n + 1, big); y0 = np.full(n + 1, big)
    x1 = np.full(n + 1, -1); y1 = np.full(n + 1, -1)
    np.minimum.at(x0, sid, xs); np.minimum.at(y0, sid, ys)
    np.maximum.at(x1, sid, xs); np.maximum.at(y1, sid, ys)
    long_side = np.maximum(x1 - x0, y1 - y0) + 1
    thin = areas <= 2 * long_side
    if dark is not None:  # thin AND inky: its pixels are, on average, in a line's fringe
        mean_dark = np.bincount(sid, weights=dark[ys, xs], minlength=n + 1) / np.maximum(areas, 1)
        thin &= mean_dark >= min_dark
        # ... but not a sliver of paper between two lines (a valley of darkness)
        thin &= ~_valleys(labels, dark, sid, xs, ys, n, thin & small & (areas > SPECK_MAX_AREA),
                          areas, min_dark / SPECK_MIN_DARK)
    speck = small & ((areas <= SPECK_MAX_AREA) | thin)
    speck &= areas <= np.where(areas <= SPECK_MAX_AREA, SPECK_MAX_AREA, SPECK_THIN_MAX_AREA)
    sel = speck[sid]
    return speck, xs[sel], ys[sel]


def merge_specks(labels: np.ndarray, speck: np.ndarray, xs: np.ndarray, ys: np.ndarray
                 ) -> tuple[np.ndarray, int]:
    """Merge speck regions (``speck``: (n+1,) bool per label) into the region whose pixels
    lie nearest (within 3 px, across the line): each speck pixel finds the nearest pixel
    of a non-speck region; the speck joins the region most of its pixels found (ties ->
    the lower label). A speck with no region within reach becomes line (0).

    xs, ys: the speck pixels (:func:`find_specks`). Returns (lut (n+1,) int32: old label
    -> new label, the kept regions renumbered 1..m keeping their order, i.e. raster order
    of their first pixel before the merge; m). Only speck pixels are examined.
    """
    n = speck.size - 1
    h, w = labels.shape
    sid = labels[ys, xs].astype(np.int64)
    hit = np.zeros(xs.size, np.int64)
    for dy, dx in _OFFSETS:  # nearest ring first: a fixed 48-step loop, not per pixel
        todo = hit == 0
        if not todo.any():
            break
        lab = labels[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)].astype(np.int64)
        good = todo & (lab > 0) & ~speck[lab]
        hit[good] = lab[good]
    ok = hit > 0
    target = np.zeros(n + 1, np.int64)
    if ok.any():
        key, cnt = np.unique(sid[ok] * (n + 1) + hit[ok], return_counts=True)
        s, t = key // (n + 1), key % (n + 1)
        order = np.lexsort((t, -cnt, s))
        s, t = s[order], t[order]
        first = np.ones(s.size, bool)
        first[1:] = s[1:] != s[:-1]
        target[s[first]] = t[first]
    rank = np.zeros(n + 1, np.int32)
    kept = ~speck
    kept[0] = False
    m = int(kept.sum())
    rank[kept] = np.arange(1, m + 1, dtype=np.int32)
    lut = rank.copy()
    ids = np.flatnonzero(speck)
    lut[ids] = rank[target[ids]]
    return lut, m
