"""Small generated shots for service and chunking tests (tiny images, numbered frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.art import draw


def save(path: Path, rgba: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def make_shot(root: Path, n: int = 6, size: int = 96, first: int = 1,
              ref_frame: int = 0) -> dict:
    """``root/line/NNNN.png`` frames ``first..first+n-1`` of a moving face, and one colored
    reference (``root/ref/gt/NNNN.png`` + its line art) drawn at ``ref_frame``'s pose."""
    def pose(k: int) -> tuple[int, int]:
        return (k % 5) * 2 - 4, -(k % 3)

    lines = []
    for k in range(first, first + n):
        dx, dy = pose(k)
        lines.append(save(root / "line" / f"{k:04d}.png", draw(size, dx=dx, dy=dy)[0]))
    dx, dy = pose(ref_frame)
    line, gt = draw(size, dx=dx, dy=dy)
    ref = save(root / "ref" / "gt" / f"{ref_frame:04d}.png", gt)
    ref_line = save(root / "ref" / "line" / f"{ref_frame:04d}.png", line)
    return {"root": root, "lines": lines, "ref": ref, "ref_line": ref_line}


def temp_files(folder: Path) -> list[Path]:
    """Leftover temporary files of atomic writes (``.<stem>.*.tmp*``)."""
    return [p for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []
