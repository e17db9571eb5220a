"""Learned line decisions (line mode ``learned``): a small per-pixel network trained on
the project's own degradations of synthetic line art (``scripts/train_line_extractor.py``).

Features per pixel, in units of the image's ink contrast ``D = Lp - Li``
(:func:`dacon_engine.segmentation.lineart.estimate_levels`): the darkness ``Lp - Y`` and
the absorption chroma (max - min channel of ``paper - pixel``: how colored the ink is).
The network sees a ``(2r+1)`` square of both around a pixel (r = 3: 7x7) and gives two
logits: *line* (the clean drawing's ink, black or trace color, is here) and *separator*
(ink that is the only thing between two regions: a thin line a region would leak
through). The network's line decision is the larger of the two logits.

Learned mode (:func:`learned_lines`) keeps adaptive mode's rules and lets the network
overrule them where it is sure (:data:`MARGIN`); the network alone (``margin=None``)
lost more regions than the rules on the line-art benchmark.

Only pixels that are not surely paper (darkness >= :data:`PAPER_MAX` D, at least 3x the
paper noise + 3) are examined; the rest are paper. The network is a (2r+1)-square
convolution and two 1x1 layers, trained densely on crops; at inference it runs on the
examined pixels alone (their patches gathered into a matrix): 3-8 % of a 1920x1920
frame's pixels.

Trace colors (which ink a line pixel is) stay with the rules
(:func:`dacon_engine.segmentation.lineart.classify_colors`, and adaptive mode's
hysteresis); so do the speck merges.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from types import EllipsisType

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import DaconError
from . import lineart as la

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "lines.pt"
"""The shipped line extractor (model card: ``lines.md`` beside it)."""

PAPER_MAX = 0.05
"""Pixels lighter than this share of the ink contrast (or 3x the noise + 3) are paper."""
CHUNK = 65536
"""Pixels per matrix product at inference (bounds the gathered patches' memory)."""
FORMAT = "dacon-lines"


class LineNet(nn.Module):
    """(2r+1)-square convolution over (darkness, chroma), then two 1x1 layers -> logits
    (line, separator)."""

    def __init__(self, hidden: int = 24, radius: int = 3):
        super().__init__()
        self.radius = radius
        self.hidden = hidden
        k = 2 * radius + 1
        self.conv = nn.Conv2d(2, hidden, k)
        self.mid = nn.Conv2d(hidden, hidden, 1)
        self.out = nn.Conv2d(hidden, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) features -> (B, 2, H - 2r, W - 2r) logits (no padding)."""
        return self.out(F.relu(self.mid(F.relu(self.conv(x)))))

    def forward_patches(self, p: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """(N, (2r+1)^2 * 2) gathered patches, (row, column, channel)-major, times
        ``scale`` -> (N, 2) logits: the same network as :meth:`forward`, one pixel per
        row (the scale is folded into the first layer's weights)."""
        w = self.conv.weight.permute(0, 2, 3, 1).flatten(1) * scale
        h = F.relu(F.linear(p, w, self.conv.bias))
        h = F.relu(F.linear(h, self.mid.weight.flatten(1), self.mid.bias))
        return F.linear(h, self.out.weight.flatten(1), self.out.bias)

    def config(self) -> dict:
        return {"hidden": self.hidden, "radius": self.radius}


def save(net: LineNet, path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write the weights atomically (a temporary file beside it, then a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "config": net.config(), "meta": dict(meta or {}),
                "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}},
               tmp)
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> LineNet:
    """The line extractor in ``path``; one-line DaconError naming the file when it is
    missing, not a torch file, truncated, or holds the wrong keys or shapes."""
    path = Path(path)
    if not path.is_file():
        raise DaconError(path, "no such line-extractor weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (any unreadable file: one line)
        raise DaconError(path, f"cannot read as line-extractor weights ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DaconError(path, f"not a line-extractor weights file (no format {FORMAT!r})")
    cfg, sd = obj.get("config"), obj.get("state_dict")
    if not isinstance(cfg, dict) or not isinstance(sd, dict):
        raise DaconError(path, "line-extractor weights without config or state_dict")
    try:
        net = LineNet(int(cfg["hidden"]), int(cfg["radius"]))
    except (KeyError, TypeError, ValueError) as e:
        raise DaconError(path, f"bad line-extractor config {cfg!r} ({e})") from None
    want = net.state_dict()
    for k in want:
        if k not in sd:
            raise DaconError(path, f"missing key {k!r}")
        if not isinstance(sd[k], torch.Tensor) or sd[k].shape != want[k].shape:
            shape = tuple(sd[k].shape) if isinstance(sd[k], torch.Tensor) else type(sd[k])
            raise DaconError(path, f"key {k!r} has shape {shape}, expected "
                                   f"{tuple(want[k].shape)}")
    extra = sorted(set(sd) - set(want))
    if extra:
        raise DaconError(path, f"unexpected key {extra[0]!r}")
    net.load_state_dict(sd)
    return net.eval()


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> LineNet:
    return load(path)


def shipped(path: str | os.PathLike | None = None) -> LineNet:
    """:func:`load` (of :data:`WEIGHTS` unless ``path``), once per file and modification
    time (cached)."""
    p = Path(WEIGHTS if path is None else path)
    with _LOCK:
        return _cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


def feature_planes(rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk,
                   dark: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(darkness, chroma) HxW uint8 planes (levels; divide by the contrast to get the
    network's units)."""
    if dark is None:
        dark = la.darkness(gray, lv)
    pv = tuple(float(v) for v in np.clip(np.rint(lv.paper_rgb), 0, 255))
    v = cv2.bitwise_not(rgb)
    cv2.subtract(v, (255 - pv[0], 255 - pv[1], 255 - pv[2], 0), dst=v)
    c = cv2.split(v)
    hi = cv2.max(cv2.max(c[0], c[1]), c[2])
    lo = cv2.min(cv2.min(c[0], c[1]), c[2])
    return dark, cv2.subtract(hi, lo)


def dense_features(rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk) -> np.ndarray:
    """(2, H, W) float32 network input of a whole image (training)."""
    d, c = feature_planes(rgb, gray, lv)
    scale = 1.0 / max(lv.paper - lv.ink, 1)
    return np.stack([d, c]).astype(np.float32) * scale


def examined(dark: np.ndarray, lv: la.PaperInk) -> np.ndarray:
    """HxW uint8 255/0: the pixels the network decides (not surely paper)."""
    lim = max(PAPER_MAX * (lv.paper - lv.ink), 3.0 * lv.noise + 3.0)
    return la.at_least(dark, lim)


def predict(net: LineNet, rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk,
            dark: np.ndarray | None = None, threshold: float = 0.0) -> np.ndarray:
    """HxW uint8 255/0 line mask: the examined pixels where line or separator logit
    >= ``threshold`` (0: probability 0.5)."""
    if dark is None:
        dark = la.darkness(gray, lv)
    out = np.zeros(dark.shape, np.uint8)
    pts, logit = logits(net, rgb, gray, lv, dark)
    sel = pts[logit >= threshold]
    out[sel[:, 1], sel[:, 0]] = 255
    return out


def logits(net: LineNet, rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk,
           dark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((N, 2) xy of the examined pixels, raster order; (N,) float32 the larger of their
    line and separator logits).

    The two feature planes are interleaved into one uint16 plane (padded by r,
    replicating the edge) whose (2r+1)-square windows are gathered, a chunk of pixels at
    a time, through a strided view (no index arrays per patch element)."""
    d, c = feature_planes(rgb, gray, lv, dark)
    pts = cv2.findNonZero(examined(dark, lv))
    if pts is None:
        return np.zeros((0, 2), np.int32), np.zeros(0, np.float32)
    pts = pts.reshape(-1, 2)
    r = net.radius
    k = 2 * r + 1
    both = cv2.merge([cv2.copyMakeBorder(p, r, r, r, r, cv2.BORDER_REPLICATE) for p in (d, c)])
    windows = np.lib.stride_tricks.sliding_window_view(both.view(np.uint16)[..., 0], (k, k))
    scale = 1.0 / max(lv.paper - lv.ink, 1)
    out = np.empty(pts.shape[0], np.float32)
    with torch.inference_mode():
        for s in range(0, pts.shape[0], CHUNK):
            p = pts[s:s + CHUNK]
            x = np.ascontiguousarray(windows[p[:, 1], p[:, 0]]).view(np.uint8)
            x = torch.from_numpy(x.reshape(p.shape[0], 2 * k * k)).float()
            out[s:s + CHUNK] = net.forward_patches(x, scale).max(dim=1).values.numpy()
    return pts, out


MARGIN = 4.0
"""Learned mode corrects the rules where the network is this sure (logit; 4: p < 0.018 or
> 0.982). None: the network's own 0.5 decision everywhere (measured worse, see
docs/benchmarks.md)."""


def learned_lines(rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk, rules: la.LineRules,
                  dark: np.ndarray | None = None, net: LineNet | None = None,
                  margin: float | None | EllipsisType = ...
                  ) -> tuple[np.ndarray, la.ColorPixels]:
    """Learned mode: (HxW uint8 255/0 line mask, color-classified pixels), with the
    shipped weights unless ``net``.

    ``margin`` (default :data:`MARGIN`) set: adaptive mode's decisions (:func:`~lineart.adaptive_lines`), except
    that examined pixels the network calls paper (line and separator logits both <
    -margin) become paper and those it calls line (> margin) become line: the network
    settles the cases the rules cannot tell apart (a 1-px region between two blurred
    lines, as dark as the lines; a neck that thick lines pinch) and leaves the rest.

    ``margin`` None: the network's decision (>= 0) on every examined pixel; trace and
    line-color pixels from the rules (adaptive :func:`~lineart.classify_colors`), then as
    in adaptive mode, line pieces with no strong, trace or line-color pixel and under
    ``HYST_MIN_PIECE`` px are dropped and the pixels of pieces with no strong pixel next
    to a trace pixel become trace."""
    if net is None:
        net = shipped()
    if dark is None:
        dark = la.darkness(gray, lv)
    if margin is ...:
        margin = MARGIN
    if margin is not None:
        line, colors = la.adaptive_lines(rgb, gray, lv, rules, dark)
        pts, logit = logits(net, rgb, gray, lv, dark)
        was = line[pts[:, 1], pts[:, 0]] > 0
        off = pts[was & (logit < -margin)]
        on = pts[~was & (logit > margin)]
        line[off[:, 1], off[:, 0]] = 0
        line[on[:, 1], on[:, 0]] = 255
        return line, colors
    line = predict(net, rgb, gray, lv, dark)
    colors = la.classify_colors(rgb, rules, lv.paper_rgb, float(lv.ink), adaptive=True)
    if not cv2.countNonZero(line):
        return line, colors
    strong = la.at_least(dark, lv.strong)
    line, soft, counts, _, _ = la._hysteresis(line, strong, list(colors.trace) + [colors.line])
    if counts is not None:
        colors = la._seeded_trace(colors, soft, counts, gray.shape)
    return line, colors
