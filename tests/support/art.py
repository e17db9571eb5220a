"""Tiny hand-made line art for tests: a 'face' of a few closed shapes, movable.

Every shape is one polygon, filled into the ground truth and outlined (the same polygon)
in both the line art and the ground truth, so fills and lines agree pixel for pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

COLORS = {
    "background": (0, 0, 0, 0),
    "face": (250, 220, 200, 255),
    "left_eye": (40, 90, 200, 255),
    "right_eye": (40, 90, 210, 255),
    "mouth": (200, 40, 60, 255),
    "hat": (30, 160, 60, 255),
}


def _poly(center, axes) -> np.ndarray:
    return cv2.ellipse2Poly((int(center[0]), int(center[1])), (int(axes[0]), int(axes[1])),
                            0, 0, 360, 10)


def draw(size: int = 96, dx: int = 0, dy: int = 0, scale: float = 1.0):
    """Return (line RGBA, gt RGBA) of a simple face; shapes shift by (dx, dy)."""
    line = np.zeros((size, size, 4), np.uint8)
    line[..., :3] = 255  # transparent paper, white stored under it
    gt = np.zeros((size, size, 4), np.uint8)
    cx, cy = size // 2 + dx, size // 2 + dy

    def s(v: float) -> int:
        return max(2, int(round(v * scale * size / 96)))

    hat = np.array([[cx - s(22), cy - s(44)], [cx + s(22), cy - s(44)],
                    [cx + s(22), cy - s(31)], [cx - s(22), cy - s(31)]], np.int32)
    shapes = [
        ("face", _poly((cx, cy), (s(30), s(30)))),
        ("hat", hat),
        ("left_eye", _poly((cx - s(11), cy - s(6)), (s(5), s(5)))),
        ("right_eye", _poly((cx + s(11), cy - s(6)), (s(5), s(5)))),
        ("mouth", _poly((cx, cy + s(13)), (s(10), s(4)))),
    ]
    for name, pts in shapes:  # fills in painter's order
        cv2.fillPoly(gt, [pts], COLORS[name])
    for _, pts in shapes:  # black outlines on top
        cv2.polylines(gt, [pts], True, (0, 0, 0, 255), 1)
        cv2.polylines(line, [pts], True, (0, 0, 0, 255), 1)
    return line, gt
