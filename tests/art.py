"""Tiny hand-made line art for tests: a 'face' of a few closed shapes, movable."""

from __future__ import annotations

import cv2
import numpy as np

PAPER = (255, 255, 255, 0)
COLORS = {
    "background": (0, 0, 0, 0),
    "face": (250, 220, 200, 255),
    "left_eye": (40, 90, 200, 255),
    "right_eye": (40, 90, 210, 255),
    "mouth": (200, 40, 60, 255),
    "hat": (30, 160, 60, 255),
}


def draw(size: int = 96, dx: int = 0, dy: int = 0, scale: float = 1.0):
    """Return (line RGBA, gt RGBA) of a simple face; shapes shift by (dx, dy)."""
    h = w = size
    line = np.zeros((h, w, 4), np.uint8)
    line[..., :3] = 255  # transparent paper, white stored under it
    gt = np.zeros((h, w, 4), np.uint8)
    c = (w // 2 + dx, h // 2 + dy)

    def s(v: float) -> int:
        return max(2, int(round(v * scale * size / 96)))

    shapes = [
        ("face", lambda img, col, th: cv2.circle(img, c, s(30), col, th)),
        ("hat", lambda img, col, th: cv2.rectangle(
            img, (c[0] - s(22), c[1] - s(44)), (c[0] + s(22), c[1] - s(31)), col, th)),
        ("left_eye", lambda img, col, th: cv2.circle(img, (c[0] - s(11), c[1] - s(6)), s(5), col, th)),
        ("right_eye", lambda img, col, th: cv2.circle(img, (c[0] + s(11), c[1] - s(6)), s(5), col, th)),
        ("mouth", lambda img, col, th: cv2.ellipse(img, (c[0], c[1] + s(13)), (s(10), s(4)), 0, 0, 360, col, th)),
    ]
    for name, fn in shapes:  # fills, painter's order
        fn(gt, COLORS[name], -1)
    for _, fn in shapes:  # black outlines
        fn(gt, (0, 0, 0, 255), 1)
        fn(line, (0, 0, 0, 255), 1)
    return line, gt
