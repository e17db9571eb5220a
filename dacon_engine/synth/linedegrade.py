"""Line art as real tools export it: anti-aliased, resampled, JPEG-compressed, scanned.

Deterministic degradations of clean (aliased, binary) line art, used by the line-art
benchmark (``scripts/bench_segments.py``) and the tests, plus :func:`match_regions`, the
one-to-one comparison of a segmentation with the clean drawing's.

Every degradation takes HxWx4 (or HxWx3) uint8 line art and returns opaque HxWx3 uint8
RGB (the art composited on white first), the way a PNG/JPEG export or a scan arrives.
"""

from __future__ import annotations

import cv2
import numpy as np


def flatten(rgba: np.ndarray) -> np.ndarray:
    """Composite on white -> HxWx3 uint8 RGB."""
    a = np.asarray(rgba)
    if a.shape[2] == 3:
        return a.copy()
    al = a[..., 3:4].astype(np.float32) / 255.0
    out = a[..., :3].astype(np.float32) * al + 255.0 * (1.0 - al)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def thicken(rgba: np.ndarray, width: int) -> np.ndarray:
    """Clean (still aliased) art with lines thickened to about ``width`` px: a per-channel
    minimum filter, so colored lines keep their color. The clean drawing of
    :func:`antialias` at that width."""
    rgb = flatten(rgba)
    if width > 1:
        rgb = cv2.erode(rgb, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)))
    return rgb


def antialias(rgba: np.ndarray, width: int = 1, sigma: float = 0.8) -> np.ndarray:
    """:func:`thicken` to ``width``, then a Gaussian blur of ``sigma`` px: soft
    anti-aliased edges."""
    rgb = thicken(rgba, width)
    if sigma > 0:
        rgb = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), sigma)
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return rgb


def area_resample(rgba: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """Downscale by ``factor`` with area averaging, then back to the original size
    (bilinear): every 1-px line becomes a light, smeared anti-aliased stroke."""
    rgb = flatten(rgba)
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def thin_lines(rgba: np.ndarray) -> np.ndarray:
    """Clean art redrawn with 1-px, 8-connected lines (an aliased pen's Bresenham strokes,
    where the clean art's are 4-connected or wider): the skeleton of the ink (black and
    colored lines), each kept pixel with its own color, the rest white paper. Still
    closed for 4-connected regions. Returns opaque HxWx3 uint8 RGB."""
    from skimage.morphology import skeletonize

    from ..segmentation.segments import line_mask

    rgb = flatten(rgba)
    out = np.full_like(rgb, 255)
    keep = skeletonize(line_mask(rgba))
    out[keep] = rgb[keep]
    return out


def half_resolution(rgba: np.ndarray) -> np.ndarray:
    """Half the width and height, area-averaged (an export at half size)."""
    rgb = flatten(rgba)
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Round trip through OpenCV's JPEG codec (4:2:0 chroma) at ``quality``."""
    rgb = flatten(rgb) if rgb.shape[2] == 4 else rgb
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def scan(rgba: np.ndarray, seed: int = 0, paper=(238, 233, 222), ink: int = 40,
         noise: float = 4.0, sigma: float = 0.7) -> np.ndarray:
    """A simulated scan: off-white, slightly uneven paper, ink that is not quite black,
    optical blur and sensor noise.

    The clean art's ink coverage (1 - white-composited value / 255 per channel) is blurred
    by ``sigma``, laid on ``paper`` (RGB) with ink at ``ink`` grey (colored lines keep
    their hue), lit by a smooth +-4 % gradient, then Gaussian noise of ``noise`` levels.
    """
    rng = np.random.default_rng(seed)
    rgb = flatten(rgba).astype(np.float32)
    cover = 1.0 - rgb / 255.0  # per-channel ink coverage
    if sigma > 0:
        cover = cv2.GaussianBlur(cover, (0, 0), sigma)
    p = np.asarray(paper, np.float32)
    out = p - cover * (p - ink)
    h, w = out.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, 2)
    light = 1.0 + 0.04 * (gx * (xx / max(w - 1, 1) - 0.5) + gy * (yy / max(h - 1, 1) - 0.5))
    out = out * light[..., None] + rng.normal(0.0, noise, out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def random_export(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random export of clean art, at its size (training augmentation): anti-aliased
    at 1-3 px (blur sigma 0.5-1.0), area-resampled, anti-aliased then JPEG quality 70-95,
    or scanned, with equal odds. Returns opaque HxWx3 uint8 RGB."""
    kind = int(rng.integers(4))
    if kind == 0:
        return antialias(rgba, int(rng.integers(1, 4)), float(rng.uniform(0.5, 1.0)))
    if kind == 1:
        return area_resample(rgba, 0.5)
    if kind == 2:
        return jpeg(antialias(rgba, 1, float(rng.uniform(0.5, 0.8))), int(rng.integers(70, 96)))
    return scan(rgba, seed=int(rng.integers(2**31)))


def match_regions(clean: np.ndarray, ours: np.ndarray, min_area: int = 10,
                  min_area_ours: int | None = None, ignore: np.ndarray | None = None
                  ) -> dict:
    """Compare a segmentation ``ours`` with the clean drawing's ``clean`` (same size).

    A clean region R and a segment S match one-to-one when S is the segment sharing most
    pixels with R and R is the clean region sharing most pixels with S (pixels that are
    line in either map are not counted). ``ignore`` (HxW bool): pixels counted as line in
    both maps, areas included; the benchmark passes the color-trace lines there, whose
    pixels belong to a region only by the color-line convention (a whole trace line goes
    to the smallest region it touches, often a sliver of a few px). Returns a dict:
    ``regions`` (clean regions of >= ``min_area`` px), ``recovered`` (of those, matched
    one-to-one), ``extra`` (segments of >= ``min_area_ours`` px, default ``min_area``,
    matched to no clean region), ``segments`` (segments of ours).
    """
    if min_area_ours is None:
        min_area_ours = min_area
    c = clean.ravel().astype(np.int64)
    o = ours.ravel().astype(np.int64)
    if ignore is not None:
        off = np.asarray(ignore, bool).ravel()
        c[off] = 0
        o[off] = 0
    nc, no = int(c.max()) + 1, int(o.max()) + 1
    ok = (c > 0) & (o > 0)
    key, cnt = np.unique(c[ok] * no + o[ok], return_counts=True)
    kc, ko = key // no, key % no
    # best partner each way (ties -> lower label): sort by count descending
    order = np.lexsort((ko, -cnt, kc))
    best_o = np.full(nc, -1, np.int64)
    first = np.ones(order.size, bool)
    first[1:] = kc[order][1:] != kc[order][:-1]
    best_o[kc[order][first]] = ko[order][first]
    order = np.lexsort((kc, -cnt, ko))
    best_c = np.full(no, -1, np.int64)
    first = np.ones(order.size, bool)
    first[1:] = ko[order][1:] != ko[order][:-1]
    best_c[ko[order][first]] = kc[order][first]
    area_c = np.bincount(c, minlength=nc)
    area_o = np.bincount(o, minlength=no)
    ids_c = np.arange(nc)
    mutual_c = (best_o >= 0) & (best_c[np.maximum(best_o, 0)] == ids_c)
    big_c = area_c >= min_area
    big_c[0] = False
    ids_o = np.arange(no)
    mutual_o = (best_c >= 0) & (best_o[np.maximum(best_c, 0)] == ids_o)
    big_o = area_o >= min_area_ours
    big_o[0] = False
    return {"regions": int(big_c.sum()), "recovered": int((big_c & mutual_c).sum()),
            "extra": int((big_o & ~mutual_o).sum()), "segments": int(ours.max())}
