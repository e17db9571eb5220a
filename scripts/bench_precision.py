#!/usr/bin/env python
"""Do colors hold under bf16? Every quality suite colored with --precision fp32 and bf16.

The quality suites of ``scripts/bench_quality.py`` (real-frame warps and close-ups when
../shared/data/paintbucket_0242 exists, the synthetic suites) are colored by the default
model with graph refinement and mirroring on, once per precision; per suite it prints the
segments whose color differs, and the accuracy under each precision (so a difference shows
whether it helped or hurt). ``--show`` lists every differing segment (frame, id, area,
colors, truth). Needs a CPU (or GPU) with native bf16.

    .venv/bin/python scripts/bench_precision.py [--suites warp-mild closeup ...] [--show]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dacon_engine.colorizer import Colorizer
from dacon_engine.evaluation.quality import benchmark_suites
from dacon_engine.frames import SegmentedFrame
from dacon_engine.segmentation.references import segment_colors
from dacon_engine.segmentation.segments import segment_line_art

ROOT = Path(__file__).resolve().parents[1]


def suites(args: argparse.Namespace) -> dict:
    out = benchmark_suites(args.real, args.clips, args.size, args.frames, args.warps)
    return {k: v for k, v in out.items() if not args.suites or k in args.suites}


def colors(precision: str, case) -> list[np.ndarray]:
    """Per target frame its (n, 4) segment colors under ``precision``."""
    c = Colorizer("default", device="cpu", precision=precision)
    for line, gt in case.references:
        c.add_reference(gt, line)
    frames = [SegmentedFrame(line, *segment_line_art(line)) for line, _ in case.targets]
    return [np.asarray(r.assignment.colors) for r in c.colorize(frames)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--warps", type=int, default=8)
    ap.add_argument("--real", type=Path,
                    default=ROOT.parent / "shared" / "data" / "paintbucket_0242")
    ap.add_argument("--suites", nargs="+", default=None)
    ap.add_argument("--show", action="store_true", help="list every differing segment")
    args = ap.parse_args()
    Colorizer("default", device="cpu", precision="bf16")  # refuses where bf16 is emulated
    print(f"{'suite':<15} {'segments':>9} {'differ':>7} {'same %':>8} {'acc fp32':>9} "
          f"{'acc bf16':>9}  (acc: share of segments colored as the ground truth)")
    total = differ = 0
    for name, cases in suites(args).items():
        n = d = right32 = right16 = 0
        for k, case in enumerate(cases):
            a, b = colors("fp32", case), colors("bf16", case)
            for f, (ca, cb, (line, gt)) in enumerate(zip(a, b, case.targets)):
                labels, count = segment_line_art(line)
                truth = np.asarray(segment_colors(labels, count, gt))
                diff = np.flatnonzero((ca != cb).any(1))
                n, d = n + len(ca), d + len(diff)
                right32 += int((ca == truth).all(1).sum())
                right16 += int((cb == truth).all(1).sum())
                if args.show:
                    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
                    for i in diff:
                        print(f"  {name} case {k} frame {f} segment {i + 1}: area "
                              f"{areas[i]} px, fp32 {ca[i].tolist()} bf16 {cb[i].tolist()} "
                              f"truth {truth[i].tolist()}")
        total, differ = total + n, differ + d
        print(f"{name:<15} {n:>9} {d:>7} {100 * (n - d) / max(n, 1):>8.2f} "
              f"{100 * right32 / max(n, 1):>9.2f} {100 * right16 / max(n, 1):>9.2f}", flush=True)
    print(f"{'all':<15} {total:>9} {differ:>7} {100 * (total - differ) / max(total, 1):>8.2f}")


if __name__ == "__main__":
    main()
