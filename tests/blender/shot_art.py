"""A tiny generated shot for the colorize tests: 96 px line art, a colored reference sheet.

Each frame is a box split into a left region and a right region that is split again into top
and bottom; the box moves 2 px per frame. Frame 3 has an extra small box in the bottom right
region (a segment the reference does not have: low confidence). Images are written and read
through Blender's own image code (``bpy``), top row first as numpy arrays.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

SIZE = 96
PAPER = (240, 240, 240)
LEFT = (220, 40, 40)
TOP_RIGHT = (40, 60, 220)
BOTTOM_RIGHT = (40, 180, 60)
COLORS = (PAPER, LEFT, TOP_RIGHT, BOTTOM_RIGHT)
ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = ROOT / ".venv" / "bin" / "python"


def box(dx: int) -> dict[str, int]:
    x0, x1, y0, y1 = 14 + dx, 70 + dx, 18, 78
    return {"x0": x0, "x1": x1, "y0": y0, "y1": y1, "xm": x0 + (x1 - x0) // 3, "ym": (y0 + y1) // 2}


def draw(dx: int, colors: tuple | None = None, extra: bool = False) -> np.ndarray:
    """RGBA uint8 (top row first): black lines on white, or filled with ``colors``."""
    b = box(dx)
    x0, x1, y0, y1, xm, ym = b["x0"], b["x1"], b["y0"], b["y1"], b["xm"], b["ym"]
    img = np.full((SIZE, SIZE, 4), 255, np.uint8)
    if colors:
        img[:, :, :3] = colors[0]
        img[y0:y1, x0:xm, :3] = colors[1]
        img[y0:ym, xm:x1, :3] = colors[2]
        img[ym:y1, xm:x1, :3] = colors[3]
    lines = [(y0, y0 + 2, x0, x1), (y1 - 2, y1, x0, x1), (y0, y1, x0, x0 + 2),
             (y0, y1, x1 - 2, x1), (y0, y1, xm - 1, xm + 1), (ym - 1, ym + 1, xm, x1)]
    if extra:
        a, c = ym + 6, xm + 8
        lines += [(a, a + 2, c, c + 16), (a + 10, a + 12, c, c + 16), (a, a + 12, c, c + 2),
                  (a, a + 12, c + 14, c + 16)]
    for top, bottom, left, right in lines:
        img[top:bottom, left:right, :3] = 0
    return img


def points(k: int) -> dict[str, tuple[int, int]]:
    """(row, column) of a pixel inside each region of frame ``k``, and one on a line."""
    b = box(2 * k)
    return {"paper": (5, 5), "left": (50, b["x0"] + 8), "top_right": (30, b["xm"] + 6),
            "bottom_right": (b["y1"] - 6, b["x1"] - 6), "line": (b["y0"], b["x0"] + 20)}


def write_png(path: Path, rgba: np.ndarray) -> Path:
    """Write an RGBA uint8 array (top row first) as an 8-bit PNG through Blender."""
    import bpy

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = rgba.shape[:2]
    img = bpy.data.images.new(path.stem, w, h, alpha=True)
    img.pixels.foreach_set((rgba[::-1].astype(np.float32) / 255.0).ravel())
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return path


def read_png(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGBA uint8 (top row first), read through Blender."""
    import bpy

    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = img.size
        buf = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(img)
    return np.rint(buf.reshape(h, w, 4)[::-1] * 255).astype(np.uint8)


def make_art(root: Path, frames: int = 4) -> dict[str, object]:
    """Line art ``root/line/line_0001.png...`` and the reference ``root/ref/{ref,ref_line}.png``."""
    line = [write_png(root / "line" / f"line_{k:04d}.png", draw(2 * k, extra=(k == 3)))
            for k in range(1, frames + 1)]
    ref = write_png(root / "ref" / "ref.png", draw(-6, COLORS))
    ref_line = write_png(root / "ref" / "ref_line.png", draw(-6))
    return {"line": line, "ref": ref, "ref_line": ref_line}


def cli_colorize(targets: list[Path], refs: list[tuple[Path, Path | None]], out: Path,
                 *extra: str) -> None:
    """The same job through the engine's CLI (``.venv/bin/dacon colorize``)."""
    cmd = [str(ENGINE_PYTHON), "-m", "dacon_engine.jobs.cli", "colorize", *map(str, targets),
           "--out", str(out), "--quiet", *extra]
    for color, line in refs:
        cmd += ["--ref", str(color)]
        if line is not None:
            cmd += ["--ref-line", str(line)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
