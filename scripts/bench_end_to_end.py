#!/usr/bin/env python
"""End-to-end seconds per frame of `dacon colorize` work at 1920x1920: read the line art,
segment, features, match, write PNG + JSON (model loading and references excluded).

    .venv/bin/python scripts/bench_end_to_end.py [--model default] [--frames 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.imageio import read_image, write_png
from dacon_engine.outputs import write_frame_outputs

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "paintbucket_0242"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if (REAL / "line.png").is_file():
        line, gt = read_image(REAL / "line.png"), read_image(REAL / "gt.png")
        source = "PaintBucket 0242 (1920x1920)"
    else:
        from dacon_engine import synth

        f = synth.make_clip(7, n_frames=1, size=1920).frames[0]
        line, gt, source = f.line, f.gt, "synthetic 1920x1920"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = []
        for k in range(args.frames):
            p = tmp / f"line_{k:04d}.png"
            write_png(p, np.roll(line, 8 * k, axis=1))
            paths.append(p)
        c = Colorizer(args.model)
        c.add_reference(gt, line)
        list(c.colorize(paths[:1]))  # warm-up
        t0 = time.perf_counter()
        for r in c.colorize(paths, batch_size=1):
            write_frame_outputs(tmp / "out", r.name, r.frame, r.assignment,
                                formats=("png", "json"), model_name=c.model_name,
                                references=c.reference_names(), overwrite=True)
        dt = (time.perf_counter() - t0) / args.frames
    print(f"{source}, model {c.model_name}, torch threads {torch.get_num_threads()}: "
          f"{dt * 1000:.0f} ms per frame end to end (read, segment, features, match, write)")


if __name__ == "__main__":
    main()
