"""Line / paper decisions for line art as it is really exported or scanned.

Two modes decide which pixels are line (see :func:`dacon_engine.segments.segment_line_art`):

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

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

LINE_MODES = ("auto", "fixed", "adaptive")

TRACE_TOLERANCE_DEG = 20.0
"""Largest angle between a pixel's absorption and an ink's (degrees)."""

NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "yellow": (255, 255, 0),
    "orange": (255, 128, 0), "purple": (128, 0, 255), "pink": (255, 105, 180),
    "brown": (120, 70, 30), "darkblue": (0, 0, 139), "navy": (0, 0, 128),
}
"""Names accepted for trace / line colors (besides R,G,B and #rrggbb)."""

DEFAULT_TRACE_COLORS: tuple[tuple[int, int, int], ...] = ((255, 0, 0), (0, 0, 255), (0, 255, 0))
"""Pure red, blue, green: BasicPBC's shading-boundary lines, in its processing order."""

# clean-image test: share of pixels allowed to be neither paper (exactly its level) nor
# ink/pure color, and the grey band counted as "in between"
_CLEAN_MAX_MID = 0.002
_MID_LO, _MID_HI = 24, 231
SPECK_MAX_AREA = 9
"""adaptive mode: regions of <= this many px are specks (merged, never colored alone)."""
SPECK_MIN_DARK = 0.15
"""adaptive mode: ... mean darkness (share of the ink contrast) of a thin speck."""
SPECK_THIN_MAX_AREA = 40
"""adaptive mode: regions of <= this many px that a 3x3 erosion removes (nowhere wider
than 2 px: slivers along lines, holes in thick strokes) are specks too."""


def at_least(a: np.ndarray, value: float) -> np.ndarray:
    """255 where ``a >= value``, else 0 (uint8 mask). cv2.compare with a scalar, except for
    images of up to 4 pixels, which OpenCV would mistake for a scalar themselves."""
    if a.size > 4:
        return cv2.compare(a, float(value), cv2.CMP_GE)
    return np.where(a >= value, 255, 0).astype(np.uint8)


def parse_color(text: str | Sequence[int]) -> tuple[int, int, int]:
    """'red', 'R,G,B' (0..255) or '#rrggbb' (or an (r, g, b) sequence) -> (r, g, b).

    Raises ValueError naming what is allowed.
    """
    if not isinstance(text, str):
        vals = [int(v) for v in text]
        if len(vals) != 3 or not all(0 <= v <= 255 for v in vals):
            raise ValueError(f"color {tuple(text)!r}: need 3 values in 0..255")
        return vals[0], vals[1], vals[2]
    t = text.strip().lower()
    if t in NAMED_COLORS:
        return NAMED_COLORS[t]
    m = re.fullmatch(r"#?([0-9a-f]{6})", t)
    if m and (t.startswith("#") or not t.isdigit()):
        h = m.group(1)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    parts = [p.strip() for p in t.split(",")]
    if len(parts) == 3 and all(p.isdigit() for p in parts) and all(int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise ValueError(f"color {text!r}: use a name ({', '.join(sorted(NAMED_COLORS))}), "
                     "R,G,B with values 0..255, or #rrggbb")


def _colors(colors, default) -> tuple[tuple[int, int, int], ...]:
    if colors is None:
        return default
    if isinstance(colors, str):
        colors = [colors]
    out = []
    for c in colors:
        rgb = parse_color(c)
        if sum(rgb) >= 3 * 250:
            raise ValueError(f"color {c!r} is white: it cannot be told from paper")
        out.append(rgb)
    return tuple(out)


@dataclass(frozen=True)
class LineOptions:
    """How line pixels are decided (see the module docstring)."""

    mode: str = "auto"
    threshold: int = 128
    trace_colors: tuple[tuple[int, int, int], ...] = DEFAULT_TRACE_COLORS
    line_colors: tuple[tuple[int, int, int], ...] = ()

    @classmethod
    def make(cls, mode: str = "auto", threshold: int = 128, trace_colors=None,
             line_colors=None) -> "LineOptions":
        if mode not in LINE_MODES:
            raise ValueError(f"line mode {mode!r}: use one of {', '.join(LINE_MODES)}")
        if not 0 <= int(threshold) <= 255:
            raise ValueError(f"threshold must be in 0..255, got {threshold}")
        return cls(mode, int(threshold), _colors(trace_colors, DEFAULT_TRACE_COLORS),
                   _colors(line_colors, ()))


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
    mid = hist[_MID_LO:_MID_HI + 1].sum() - exempt
    if mid > _CLEAN_MAX_MID * n:
        return False
    lp = int(np.argmax(hist))
    # the paper is one level: its near neighbours are (almost) empty
    near = hist[max(lp - 12, 0):lp + 13].sum() - hist[lp]
    return bool(near <= _CLEAN_MAX_MID * n)


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
    g4 = np.ascontiguousarray(gray[::step])
    mask = cv2.inRange(g4, max(lp - 2 * noise - 1, 0), min(lp + 2 * noise + 1, 255))
    paper_rgb = np.array(cv2.mean(np.ascontiguousarray(rgb[::step]), mask=mask)[:3],
                         np.float32)
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
    return cv2.subtract(np.full_like(gray, lv.paper), gray)


def _line_candidates(dark: np.ndarray, lv: PaperInk) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, strong) uint8 255/0 masks of adaptive mode (module docstring)."""
    strong = at_least(dark, lv.strong)
    localmax = cv2.dilate(dark, np.ones((3, 3), np.uint8))
    half = cv2.compare(cv2.add(dark, dark), localmax, cv2.CMP_GE)  # 2d >= max (no overflow
    # issue: saturation at 255 only where d >= 128, i.e. surely >= half of any max)
    cand = cv2.bitwise_and(at_least(dark, lv.weak), half)
    cv2.bitwise_or(cand, strong, dst=cand)  # strong >= weak: strong pixels are candidates
    return cand, strong


def _hysteresis(cand: np.ndarray, strong: np.ndarray,
                seeds: list[tuple[np.ndarray, np.ndarray] | None] = ()
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Drop, in place, the 8-connected pieces of ``cand`` with no strong pixel, no seed
    pixel and fewer than HYST_MIN_PIECE pixels. seeds: per seed class (xs, ys) or None.

    Returns (cand, soft (S, 2) xy of the soft -- candidate, not strong -- pixels kept or
    None, their piece's seed counts (S, K) or None when no soft piece holds a seed but
    no strong pixel, strong-piece flag (S,) bool). Only the soft pixels can lie in a
    piece without a strong pixel: they are looked up and cleared sparsely.
    """
    softm = cv2.bitwise_xor(cand, strong)
    soft = cv2.findNonZero(softm)
    if soft is None:
        return cand, None, None, np.zeros(0, bool)
    # label the soft pixels alone: a soft piece 8-adjacent to a strong pixel is part of
    # a piece with one (no need to list the many strong pixels)
    n1, lab = cv2.connectedComponentsWithAlgorithm(softm, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI)
    soft = soft.reshape(-1, 2)
    sx, sy = soft[:, 0], soft[:, 1]
    sl = lab[sy, sx]
    touch = cv2.dilate(strong, np.ones((3, 3), np.uint8))[sy, sx] > 0
    keep = np.zeros(n1, bool)
    keep[sl[touch]] = True
    counts = np.zeros((n1, max(len(seeds), 1)), np.int64)
    for k, sp in enumerate(seeds):
        if sp is not None:
            counts[:, k] = np.bincount(lab[sp[1], sp[0]], minlength=n1)
    counts[0] = 0
    seeded = ~keep & (counts.sum(1) > 0)
    big = np.bincount(sl, minlength=n1) >= HYST_MIN_PIECE  # pixels per soft piece
    big[0] = False
    drop = ~(keep | seeded | big)[sl]
    if drop.any():
        cand[sy[drop], sx[drop]] = 0
        soft, sl = soft[~drop], sl[~drop]
    return cand, soft, counts[sl] if seeded.any() else None, keep[sl]


def adaptive_line_mask(gray: np.ndarray, lv: PaperInk, dark: np.ndarray | None = None
                       ) -> np.ndarray:
    """HxW uint8 255/0: black line pixels of adaptive mode, without color seeds (see
    the module docstring and :func:`adaptive_lines`).

    dark: :func:`darkness` of ``gray`` when already computed.
    """
    if dark is None:
        dark = darkness(gray, lv)
    cand, strong = _line_candidates(dark, lv)
    return _hysteresis(cand, strong)[0]


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


def _pair_kernel(a: tuple[int, int], b: tuple[int, int]) -> np.ndarray:
    k = np.zeros((3, 3), np.uint8)
    k[1 + a[0], 1 + a[1]] = k[1 + b[0], 1 + b[1]] = 1
    return k


_PAIR_KERNELS = [_pair_kernel(a, b) for a, b in _PAIRS]


def _row_kernels(horizontal: bool) -> tuple[list, list]:
    """(min of the flanks, max of the pair) kernels with anchors for 2-px valleys along
    a row (or column): flanks at -1 and +2 around the pair (0, +1), and mirrored."""
    def k(ones: tuple[int, ...], n: int) -> np.ndarray:
        a = np.zeros(n, np.uint8)
        a[list(ones)] = 1
        return a.reshape(1, n) if horizontal else a.reshape(n, 1)

    def anchor(i: int) -> tuple[int, int]:
        return (i, 0) if horizontal else (0, i)

    out = [(k((0, 3), 4), anchor(1)), (k((0, 3), 4), anchor(2))]  # p-1 & p+2; p-2 & p+1
    pair = [(k((0, 1), 2), anchor(0)), (k((0, 1), 2), anchor(1))]  # p & p+1; p-1 & p
    return out, pair


_VALLEY2_KERNELS = [_row_kernels(True), _row_kernels(False)]


def open_valleys(line: np.ndarray, dark: np.ndarray, depth: float, ridge: float,
                 weak: float = 0.0) -> int:
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

    line: HxW uint8 255/0, modified in place; returns the pixels opened. The valleys
    come from full-size OpenCV min/max filters with two-point kernels (one bit per
    direction, the image edge replicated); the ridge test only looks at those pixels.
    """
    h, w = line.shape
    if h < 3 or w < 3:
        return 0
    bits = np.zeros_like(line)
    tmp = np.empty_like(line)
    thresh = float(np.ceil(depth) - 1)  # > thresh <=> >= depth, for whole levels
    rep = cv2.BORDER_REPLICATE  # outside the image is no darker: no valley at the edge
    for i, k in enumerate(_PAIR_KERNELS):
        cv2.erode(dark, k, dst=tmp, borderType=rep)
        cv2.subtract(tmp, dark, dst=tmp)
        cv2.threshold(tmp, thresh, 1 << i, cv2.THRESH_BINARY, dst=tmp)
        cv2.bitwise_or(bits, tmp, dst=bits)
    # 2-px valleys, left/right and up/down: the pixel and its next neighbour (towards +
    # or -) both lighter than the two pixels flanking the pair
    tmp2 = np.empty_like(line)
    for i, (k_out, k_pair) in enumerate(_VALLEY2_KERNELS):
        for o in (0, 1):
            cv2.erode(dark, k_out[o][0], dst=tmp, anchor=k_out[o][1], borderType=rep)
            cv2.dilate(dark, k_pair[o][0], dst=tmp2, anchor=k_pair[o][1], borderType=rep)
            cv2.subtract(tmp, tmp2, dst=tmp)
            cv2.threshold(tmp, thresh, 1 << (4 + 2 * i + o), cv2.THRESH_BINARY, dst=tmp)
            cv2.bitwise_or(bits, tmp, dst=bits)
    cv2.bitwise_and(bits, line, dst=bits)
    pts = cv2.findNonZero(bits)
    if pts is None:
        return 0
    pts = pts.reshape(-1, 2).astype(np.int64)
    xs, ys = pts[:, 0], pts[:, 1]
    b = bits[ys, xs]
    d0 = dark[ys, xs].astype(np.int16)

    def at(k: int, e: tuple[int, int]) -> np.ndarray:
        return dark[np.clip(ys + k * e[0], 0, h - 1),
                    np.clip(xs + k * e[1], 0, w - 1)].astype(np.int16)

    opened = np.zeros(xs.size, bool)
    for i, j in ((0, 1), (1, 0), (2, 3), (3, 2)):  # valley direction, its perpendicular
        e = _PAIRS[j][1]
        m1, p1, m2, p2 = at(-1, e), at(1, e), at(-2, e), at(2, e)
        ridged = ((d0 - np.maximum(m1, p1) >= ridge)
                  | (np.minimum(d0, p1) - np.maximum(m1, p2) >= ridge)
                  | (np.minimum(d0, m1) - np.maximum(p1, m2) >= ridge))
        # along a gap its neighbours are gap too: paper (under ``weak``) on one side and
        # a line on the other, each ``depth`` away, is a ramp across a line -- the
        # "valley" is a lighter spot along a line that runs beside another one, and
        # opening it would cut that line
        lighter, darker = np.minimum(m1, p1), np.maximum(m1, p1)
        along = (lighter >= weak) | (d0 - lighter < depth) | (darker - d0 < depth)
        sel = ((b >> i) & 1).astype(bool)  # 1-px valley across this direction
        if i < 2:  # 2-px valleys (left/right, up/down)
            sel |= ((b >> (4 + 2 * i)) & 3).astype(bool)
        opened |= sel & ~ridged & along
    if opened.any():
        line[ys[opened], xs[opened]] = 0
    return int(opened.sum())


def bridge_gaps(line: np.ndarray, trace: list[tuple[np.ndarray, np.ndarray] | None],
                dark: np.ndarray, weak: int, margin: float
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
    order or None. Returns (line, trace, pixels bridged).
    """
    h, w = line.shape
    if h < 3 or w < 3:
        return line, trace, 0
    tid = np.zeros((h, w), np.uint8)  # trace color 1..K, 0 none
    occ = line.copy()
    for k, p in enumerate(trace):
        if p is not None:
            tid[p[1], p[0]] = k + 1
            occ[p[1], p[0]] = 255
    # both of two opposite neighbours occupied: a min filter with a two-point kernel
    # (outside the image counts as free)
    pair = np.zeros_like(line)
    tmp = np.empty_like(line)
    for k in _PAIR_KERNELS:
        cv2.erode(occ, k, dst=tmp, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        cv2.bitwise_or(pair, tmp, dst=pair)
    cv2.compare(dark, float(weak), cv2.CMP_GE, dst=tmp)  # h, w >= 3: no scalar mix-up
    cv2.bitwise_and(pair, tmp, dst=pair)
    cv2.bitwise_not(occ, dst=tmp)
    cv2.bitwise_and(pair, tmp, dst=pair)
    pts = cv2.findNonZero(pair)
    if pts is None:
        return line, trace, 0
    pts = pts.reshape(-1, 2).astype(np.int64)
    xs, ys = pts[:, 0], pts[:, 1]
    d = dark[ys, xs].astype(np.float32)
    ok = np.zeros(xs.size, bool)
    color = np.zeros(xs.size, np.int64)
    for (ay, ax), (by, bx) in _PAIRS:
        y1, x1 = np.clip(ys + ay, 0, h - 1), np.clip(xs + ax, 0, w - 1)
        y2, x2 = np.clip(ys + by, 0, h - 1), np.clip(xs + bx, 0, w - 1)
        lo = np.minimum(dark[y1, x1], dark[y2, x2]).astype(np.float32)
        hit = (occ[y1, x1] > 0) & (occ[y2, x2] > 0) & (d >= lo - margin)
        ok |= hit
        c = np.maximum(tid[y1, x1], tid[y2, x2]).astype(np.int64)
        color = np.where(hit & (c > color), c, color)
    if not ok.any():
        return line, trace, 0
    xs, ys, color = xs[ok], ys[ok], color[ok]
    out = list(trace)
    for k in range(len(trace)):
        sel = color == k + 1
        if sel.any():
            out[k] = _add_points(out[k], xs[sel], ys[sel], w)
    black = color == 0
    line[ys[black], xs[black]] = 255
    return line, out, int(xs.size)


def adaptive_lines(rgb: np.ndarray, gray: np.ndarray, lv: PaperInk, opts: LineOptions,
                   dark: np.ndarray | None = None) -> tuple[np.ndarray, ColorPixels]:
    """Adaptive mode: (HxW uint8 255/0 line mask, color-classified pixels).

    As :func:`adaptive_line_mask`, but the hysteresis is also seeded by the trace and
    line-color pixels (:func:`classify_colors`): a light colored line (red's luminance
    is 76, so an anti-aliased or JPEG'd 1-px red line has no strong pixel) keeps the
    candidate pixels around its colored ones. In a piece with no strong (black) pixel,
    a candidate pixel next to a trace pixel becomes trace line of that color: where
    JPEG's halved chroma leaves a colored line's pixels nearer grey than their hue, the
    line stays whole and closed (instead of gaps that joined the regions on both sides,
    or pieces that became segments of their own).
    """
    if dark is None:
        dark = darkness(gray, lv)
    colors = classify_colors(rgb, opts, lv.paper_rgb, float(lv.ink), adaptive=True)
    cand, strong = _line_candidates(dark, lv)
    cand, soft, counts, _ = _hysteresis(cand, strong, list(colors.trace) + [colors.line])
    if counts is not None:
        colors = _seeded_trace(colors, soft, counts, gray.shape)
    contrast = float(lv.paper - lv.ink)
    open_valleys(cand, dark, max(VALLEY_MIN_DEPTH * contrast, 2.0 * lv.noise + 2.0),
                 max(0.05 * contrast, 2.0 * lv.noise + 2.0), lv.weak)
    margin = max(2.0 * lv.noise, 0.04 * contrast)
    cand, trace, _ = bridge_gaps(cand, colors.trace, dark, lv.weak, margin)
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


def classify_colors(rgb: np.ndarray, opts: LineOptions, paper_rgb: np.ndarray | None,
                    ink: float, adaptive: bool) -> ColorPixels:
    """Find trace-line and user line-color pixels by absorption direction (module doc).

    rgb: HxWx3 uint8 composited on white; paper_rgb: (3,) paper color (None = white);
    ink: luminance of black ink (its absorption is ``paper - ink`` in every channel).
    """
    colors = list(opts.trace_colors) + list(opts.line_colors)
    none = ColorPixels([None] * len(opts.trace_colors), None)
    if not colors:
        return none
    p = np.full(3, 255.0, np.float32) if paper_rgb is None else np.asarray(paper_rgb, np.float32)
    dirs = np.array([p - ink] + [p - np.asarray(c, np.float32) for c in colors], np.float32)
    # candidates: absorption chroma (max - min channel) >= half the least chroma of a color
    # (fixed), or a fraction of it above the noise (adaptive)
    chroma_c = dirs[1:].max(1) - dirs[1:].min(1)
    pv = tuple(float(v) for v in np.clip(np.rint(p), 0, 255))
    if adaptive:
        v = cv2.bitwise_not(rgb)
        cv2.subtract(v, (255 - pv[0], 255 - pv[1], 255 - pv[2], 0), dst=v)
    else:  # white paper: absorption chroma = chroma of the pixel itself
        v = rgb
    # into preallocated planes, reused below (cv2.split allocating its own planes and
    # a fresh array per step cost several times the arithmetic at 1920x1920)
    c = [np.empty(rgb.shape[:2], np.uint8) for _ in range(3)]
    cv2.split(v, c)
    ch = cv2.max(c[0], c[1])
    cv2.max(ch, c[2], dst=ch)
    cv2.min(c[0], c[1], dst=c[0])
    cv2.min(c[0], c[2], dst=c[0])
    cv2.subtract(ch, c[0], dst=ch)
    lim = 0.15 if adaptive else 0.5
    cmin = max(float(chroma_c.min()) * lim * 0.8, 12.0 if adaptive else 1.0)
    cand = at_least(ch, cmin)
    if not cv2.countNonZero(cand):
        return none
    pts = cv2.findNonZero(cand).reshape(-1, 2)  # row by row: already in raster order
    xs, ys = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    # signed absorption (float, not clipped) of the candidates
    vv = p[None, :] - rgb[ys, xs].astype(np.float32)
    norm_d = np.linalg.norm(dirs, axis=1)
    norm_v = np.maximum(np.linalg.norm(vv, axis=1), 1e-6)
    dots = vv @ dirs.T  # (N, K+1)
    cos = dots / (norm_v[:, None] * np.maximum(norm_d[None, :], 1e-6))
    best = np.argmax(cos, axis=1)
    cov = dots[np.arange(best.size), best] / np.maximum(norm_d[best] ** 2, 1e-6)
    ok = cos[np.arange(best.size), best] >= np.cos(np.deg2rad(TRACE_TOLERANCE_DEG))
    nt = len(opts.trace_colors)
    trace: list[tuple[np.ndarray, np.ndarray] | None] = []
    for k in range(nt):
        sel = ok & (best == k + 1) & (cov >= lim)
        if adaptive and sel.any():
            from .segments import _point_components

            cid = _point_components(xs[sel], ys[sel], rgb.shape[1])
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
    row-major runs (``runs``: :func:`dacon_engine.segments.label_runs`, computed when
    not given), no full-size lookup.
    """
    from .segments import label_runs

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


def check_line_options(line_mode: str = "auto", trace_colors=None, line_colors=None,
                       threshold: int = 128) -> LineOptions:
    """Validate user line-art options up front; raises DaconError naming the option
    (as the CLI spells it), the value and what is allowed."""
    from .errors import DaconError

    if line_mode not in LINE_MODES:
        raise DaconError(None, f"--line-mode {line_mode}: unknown mode (choose from "
                               f"{', '.join(LINE_MODES)})")
    for opt, vals in (("--trace-color", trace_colors), ("--line-color", line_colors)):
        for v in ([vals] if isinstance(vals, str) else vals or []):
            try:
                _colors([v], ())
            except (ValueError, TypeError) as e:
                raise DaconError(None, f"{opt} {v}: {e}") from None
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 255:
        raise DaconError(None, f"--threshold {threshold}: must be a whole number in 0..255")
    return LineOptions.make(line_mode, threshold, trace_colors, line_colors)
