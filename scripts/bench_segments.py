"""Benchmark line-art segmentation on a 1920x1920 frame, single-threaded.

Usage: python scripts/bench_segments.py [--runs N] [--image PATH] [--synthetic]

Uses the shared PaintBucket line.png (../shared/data/paintbucket_0242 beside the repo)
when present (resized to 1920x1920 if needed), else a synthetic frame of random closed
shapes with a few gaps and color lines. Prints median (and min) wall-clock milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dacon_engine.imageio import read_image
from dacon_engine.segments import segment_line_art

SHARED_LINE = ROOT.parent / "shared" / "data" / "paintbucket_0242" / "line.png"
SIZE = 1920


def synthetic_frame(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """Black 2-3 px outlines of random ellipses/rectangles on transparent paper, a few
    line gaps, plus red and blue shading lines."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 4), np.uint8)
    img[..., :3] = 255
    for _ in range(150):
        c = tuple(int(v) for v in rng.integers(0, size, 2))
        ax = tuple(int(v) for v in rng.integers(20, 250, 2))
        cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, (0, 0, 0, 255),
                    int(rng.integers(2, 4)))
    for _ in range(40):
        p = rng.integers(0, size, 2)
        q = p + rng.integers(30, 300, 2)
        cv2.rectangle(img, tuple(int(v) for v in p), tuple(int(v) for v in q),
                      (0, 0, 0, 255), 2)
    for _ in range(30):  # gaps
        y, x = (int(v) for v in rng.integers(0, size - 6, 2))
        img[y:y + 5, x:x + 5] = (255, 255, 255, 0)
    for color in ((255, 0, 0, 255), (0, 0, 255, 255)):
        for _ in range(20):
            p = rng.integers(0, size, 2)
            q = p + rng.integers(-80, 80, 2)
            cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), color, 1)
    return img


def timings_ms(fn, runs: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--image", type=Path, default=None)
    ap.add_argument("--synthetic", action="store_true", help="ignore the shared line.png")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    src = args.image or (None if args.synthetic or not SHARED_LINE.exists() else SHARED_LINE)
    if src is not None:
        rgba = read_image(src)
        if rgba.shape[:2] != (SIZE, SIZE):
            rgba = cv2.resize(rgba, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
        what = src.name
    else:
        rgba = synthetic_frame()
        what = "synthetic"
    h, w = rgba.shape[:2]
    free = (rgba[..., 3] < 127).astype(np.uint8)

    jobs = {
        "bare": lambda: cv2.connectedComponents(free, connectivity=4, ltype=cv2.CV_32S),
        "default": lambda: segment_line_art(rgba),
        "gap": lambda: segment_line_art(rgba, gap_radius=4),
    }
    t = {k: [] for k in jobs}
    for _ in range(3):  # interleave rounds so background load hits every job alike
        for k, fn in jobs.items():
            t[k] += timings_ms(fn, max(1, args.runs // 3))
    med = {k: statistics.median(v) for k, v in t.items()}
    low = {k: min(v) for k, v in t.items()}
    _, n0 = segment_line_art(rgba)
    _, n4 = segment_line_art(rgba, gap_radius=4)
    print(f"frame: {what} {w}x{h}, 1 thread, {len(t['bare'])} runs each (median, min)")
    print(f"segment default {w}x{h}: {med['default']:.1f} ms (bare cv2 labelling "
          f"{med['bare']:.1f} ms); min {low['default']:.1f} / {low['bare']:.1f} ms"
          f" -> {n0} segments")
    print(f"segment gap_radius=4 {w}x{h}: {med['gap']:.1f} ms; min {low['gap']:.1f} ms"
          f" -> {n4} segments")

if __name__ == "__main__":
    main()
