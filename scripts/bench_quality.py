#!/usr/bin/env python
"""Quality benchmark: the five metrics per suite for the baseline, the default model and
any other model given (see dacon_engine/quality.py for the suites).

    .venv/bin/python scripts/bench_quality.py [--clips 8] [--size 512] [--model PATH ...]
        [--dinov2-weights FILE]   # adds the zero-shot DINOv2 row
        [--real ../shared/data/paintbucket_0242]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dacon_engine.colorizer import Colorizer
from dacon_engine.imageio import read_image
from dacon_engine.quality import format_rows, score_cases, synthetic_suites, warp_suite

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--model", action="append", default=[], help="extra model name or path")
    ap.add_argument("--dinov2-weights", default=None)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "paintbucket_0242")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    models = ["baseline", "default", *args.model]
    if args.dinov2_weights:
        models.append("zeroshot-dinov2")
    suites = synthetic_suites(args.clips, args.size, args.frames)
    if (args.real / "line.png").is_file():
        suites["warp-real"] = warp_suite(read_image(args.real / "line.png"),
                                         read_image(args.real / "gt.png"))
    rows: dict = {}
    for name in models:
        try:
            Colorizer(name, dinov2_weights=args.dinov2_weights)
        except Exception as e:  # a model that is not available here: say so and go on
            print(f"skip {name}: {e}")
            continue
        for suite, cases in suites.items():
            t = time.perf_counter()
            m = score_cases(lambda: Colorizer(name, dinov2_weights=args.dinov2_weights), cases)
            m["seconds"] = round(time.perf_counter() - t, 1)
            rows.setdefault(suite, {})[name] = m
            print(f"{suite:<15} {name:<24} acc {100 * m['acc']:.2f}  ({m['seconds']} s)", flush=True)
    print()
    print(format_rows(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
