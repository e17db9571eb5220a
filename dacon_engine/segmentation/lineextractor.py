"""Learned line decisions (line mode ``learned``): a small per-pixel network trained on
the project's own degradations of synthetic line art (``scripts/train_line_extractor.py``).

Features per pixel, in units of the image's ink contrast ``D = Lp - Li``
(:func:`dacon_engine.segmentation.lineart.estimate_levels`): the darkness ``Lp - Y`` and
the absorption chroma (max - min channel of ``paper - pixel``: how colored the ink is).
The network sees a ``(2r+1)`` square of both around a pixel (r = 3: 7x7) and gives two
logits: *line* (the clean drawing's ink, black or trace color, is here) and *separator*
(ink that is the only thing between two regions: a thin line a region would leak
through). A pixel is line where either probability is >= 0.5.

Only pixels that are not surely paper (darkness >= :data:`PAPER_MAX` D, at least 3x the
paper noise + 3) are examined; the rest are paper. The network is a (2r+1)-square
convolution and two 1x1 layers, trained densely on crops; at inference it runs on the
examined pixels alone (their patches gathered into a matrix): 2-6 % of a frame's pixels.

Trace colors (which ink a line pixel is) stay with the rules
(:func:`dacon_engine.segmentation.lineart.classify_colors`, and adaptive mode's
hysteresis); so do the speck merges.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

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

    def forward_patches(self, p: torch.Tensor) -> torch.Tensor:
        """(N, 2 * (2r+1)^2) gathered patches (channel-major) -> (N, 2) logits: the same
        network as :meth:`forward`, one pixel per row."""
        h = F.relu(F.linear(p, self.conv.weight.flatten(1), self.conv.bias))
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


def _offsets(radius: int, wp: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] * wp + r[None, :]).ravel()


def predict(net: LineNet, rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk,
            dark: np.ndarray | None = None) -> np.ndarray:
    """HxW uint8 255/0 line mask: the examined pixels where line or separator >= 0.5."""
    if dark is None:
        dark = la.darkness(gray, lv)
    d, c = feature_planes(rgb, gray, lv, dark)
    h, w = dark.shape
    out = np.zeros((h, w), np.uint8)
    pts = cv2.findNonZero(examined(dark, lv))
    if pts is None:
        return out
    pts = pts.reshape(-1, 2)
    r = net.radius
    wp = w + 2 * r
    flat = (pts[:, 1].astype(np.int64) + r) * wp + pts[:, 0] + r
    planes = [cv2.copyMakeBorder(p, r, r, r, r, cv2.BORDER_REPLICATE).ravel() for p in (d, c)]
    offs = _offsets(r, wp)
    scale = 1.0 / max(lv.paper - lv.ink, 1)
    keep = np.zeros(flat.size, bool)
    with torch.inference_mode():
        for s in range(0, flat.size, CHUNK):
            idx = flat[s:s + CHUNK, None] + offs[None, :]
            x = np.concatenate([p.take(idx) for p in planes], axis=1).astype(np.float32)
            x *= scale
            logits = net.forward_patches(torch.from_numpy(x))
            keep[s:s + CHUNK] = (logits.max(dim=1).values >= 0).numpy()
    sel = pts[keep]
    out[sel[:, 1], sel[:, 0]] = 255
    return out


def learned_lines(rgb: np.ndarray, gray: np.ndarray, lv: la.PaperInk, rules: la.LineRules,
                  dark: np.ndarray | None = None, net: LineNet | None = None
                  ) -> tuple[np.ndarray, la.ColorPixels]:
    """Learned mode: (HxW uint8 255/0 line mask, color-classified pixels). The line mask
    is the network's (:func:`predict`, the shipped weights unless ``net``); trace and
    line-color pixels are the rules' (adaptive :func:`~lineart.classify_colors`), and as
    in adaptive mode, line pieces with no strong, trace or line-color pixel and under
    ``HYST_MIN_PIECE`` px are dropped, and the pixels of pieces with no strong pixel
    next to a trace pixel become trace (a faint JPEG'd red line stays one trace line)."""
    if net is None:
        net = shipped()
    if dark is None:
        dark = la.darkness(gray, lv)
    line = predict(net, rgb, gray, lv, dark)
    colors = la.classify_colors(rgb, rules, lv.paper_rgb, float(lv.ink), adaptive=True)
    if not cv2.countNonZero(line):
        return line, colors
    strong = la.at_least(dark, lv.strong)
    line, soft, counts, _, _ = la._hysteresis(line, strong, list(colors.trace) + [colors.line])
    if counts is not None:
        colors = la._seeded_trace(colors, soft, counts, gray.shape)
    return line, colors
