"""Departures of a drawing from itself, with exact ground truth: warps (a redrawn frame
departing from its key: rotation, scale, shift, mirror, elastic bending) and close-ups (the
camera moved in on part of the drawing, lines redrawn at its pen width). The quality
benchmarks, training and per-shot adaptation make their targets with these."""

from __future__ import annotations

import cv2
import numpy as np

from ..fileio.images import as_rgba
from ..segmentation.segments import line_mask
from ..segmentation.zoom import magnify, pen_width

WARP_REGIMES: dict[str, dict[str, float]] = {
    # rotation (deg), scale change, shift (fraction of the size), horizontal-mirror
    # probability, elastic displacement (fraction of the size) and its control grid
    "mild": {"rot": 4.0, "scale": 0.04, "shift": 0.03, "flip": 0.0, "elastic": 0.006,
             "grid": 4},
    "large": {"rot": 20.0, "scale": 0.25, "shift": 0.10, "flip": 0.5, "elastic": 0.02,
              "grid": 4},
}


def warp_maps(size: tuple[int, int], rng: np.random.Generator,
              regime: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps of one random warp: affine (rotation, scale, shift, optional
    horizontal mirror) composed with a smooth elastic displacement (random vectors on a
    coarse grid, upsampled bicubically)."""
    h, w = size
    ang = rng.uniform(-regime["rot"], regime["rot"])
    scale = 1.0 + rng.uniform(-regime["scale"], regime["scale"])
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, scale)
    m[:, 2] += rng.uniform(-regime["shift"], regime["shift"], 2) * (w, h)
    if rng.random() < regime["flip"]:
        m = np.array([[-1.0, 0, w - 1], [0, 1, 0]]) @ np.vstack([m, [0, 0, 1]])
    inv = cv2.invertAffineTransform(m)
    g = int(regime["grid"])
    amp = regime["elastic"] * max(h, w)
    disp = rng.normal(0.0, amp, (2, g, g)).astype(np.float32)
    dx = cv2.resize(disp[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(disp[1], (w, h), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    px, py = xs + dx, ys + dy  # output pixel -> point in the affine-warped image
    map_x = (inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]).astype(np.float32)
    map_y = (inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]).astype(np.float32)
    return map_x, map_y


def warp_line_art(line: np.ndarray, gt: np.ndarray, *, maps: tuple | None = None,
                  affine: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One warp (remap ``maps`` or 2x3 ``affine``) of line art and its ground truth.

    The ink is warped as coverage (bilinear) and every pixel with any coverage becomes an
    opaque black line, so thin lines stay closed under rotation and down-scaling; colored
    trace-line pixels are carried over nearest-neighbour on top, keeping their color.
    Paper comes out transparent white; the ground truth is warped nearest-neighbour with
    its corner color outside the frame.
    """
    h, w = line.shape[:2]
    ink = line_mask(line)
    rgba = as_rgba(line)
    trace = ink & (rgba[..., :3].max(axis=2) > 64)  # opaque colored lines, not black ink
    border = tuple(int(v) for v in gt[0, 0])

    def warp(img: np.ndarray, flags: int, value) -> np.ndarray:
        if affine is not None:
            return cv2.warpAffine(img, affine, (w, h), flags=flags,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=value)
        return cv2.remap(img, maps[0], maps[1], flags, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=value)

    cover = warp(ink.astype(np.float32), cv2.INTER_LINEAR, 0)
    t_gt = warp(gt, cv2.INTER_NEAREST, border)
    t_line = np.zeros((h, w, 4), np.uint8)
    t_line[..., :3] = 255
    t_line[cover > 0.02] = (0, 0, 0, 255)
    if trace.any():
        t_trace = warp(trace.view(np.uint8), cv2.INTER_NEAREST, 0) > 0
        t_line[t_trace] = warp(rgba, cv2.INTER_NEAREST, 0)[t_trace]
    return t_line, t_gt


CLOSEUP_ZOOM = (1.8, 2.6)
"""How much closer the camera is in a close-up target (uniform in this range)."""
CLOSEUP_TRAIN_ZOOM = (1.4, 3.5)
"""The zooms of close-up training pairs (``dacon train --closeup-fraction``): wider than
the benchmark's, so the suites do not measure the training range alone."""


def closeup(line: np.ndarray, gt: np.ndarray, rng: np.random.Generator,
            zoom: tuple[float, float] = CLOSEUP_ZOOM, width: int | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
    """A close-up of a drawing: a mild redraw (``WARP_REGIMES["mild"]``), then the camera
    moved in ``zoom`` times on a random point of the drawing (the frame border cuts it),
    the lines redrawn at the drawing's pen width (``width``, measured when None)."""
    h, w = line.shape[:2]
    t_line, t_gt = warp_line_art(line, gt, maps=warp_maps((h, w), rng, WARP_REGIMES["mild"]))
    z = rng.uniform(*zoom)
    bw, bh = max(1, round(w / z)), max(1, round(h / z))
    ys, xs = np.nonzero(line_mask(t_line))
    cx, cy = (int(rng.choice(xs)), int(rng.choice(ys))) if len(xs) else (w // 2, h // 2)
    x0 = int(np.clip(cx - bw // 2, 0, w - bw))
    y0 = int(np.clip(cy - bh // 2, 0, h - bh))
    big_line, big_gt = magnify(t_line, t_gt, (x0, y0, bw, bh),
                               pen_width(line) if width is None else width)
    assert big_gt is not None
    return big_line, big_gt
