#!/usr/bin/env python
"""Quality benchmark: the five metrics per suite for the baseline, the default model with its
matching options off one by one (graph refinement, mirrored references) and as shipped, and
any other model given (see dacon_engine/evaluation/quality.py for the suites), then Acc / Acc on
segments > 10 px side by side.

    .venv/bin/python scripts/bench_quality.py [--clips 8] [--size 512] [--warps 8]
        [--model PATH ...] [--dinov2-weights FILE]   # adds the zero-shot DINOv2 row
        [--real ../shared/data/paintbucket_0242] [--json FILE] [--rows ROW ...]

Real-art suites (when --real holds line.png and gt.png): warp-mild (seed 1), warp-large
(seed 2) and closeup (seed 3), --warps targets each, keyframe mode, the frame's own colors
as the one reference. closeup-synth: frames 3.. of the keyframe clips seen 1.8-2.6x closer,
colored from the clip's first frame. Rows "... --ref-zoom Z" add the references magnified;
rows "... --adapt" adapt the model to each case's references first (--adapt SECONDS, or
--adapt-pairs N for figures that do not depend on the machine's load; a fresh cache per
run) and print how many cases kept the adapted weights.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from dacon_engine.colorizer import Colorizer
from dacon_engine.evaluation.quality import (
    benchmark_suites,
    format_rows,
    score_cases,
)

ROOT = Path(__file__).resolve().parents[1]


def side_by_side(rows: dict[str, dict[str, dict]]) -> str:
    """One line per suite, one 'Acc / >10px' column per configuration."""
    configs = list(dict.fromkeys(c for models in rows.values() for c in models))
    width = max(14, *(len(c) + 2 for c in configs))
    head = f"{'suite':<15}" + "".join(f"{c:>{width}}" for c in configs)
    lines = [head, "-" * len(head)]
    for suite, models in rows.items():
        cells = []
        for c in configs:
            m = models.get(c)
            cells.append("-" if m is None else
                         f"{100 * m['acc']:.1f} / {100 * (m['acc_thres'] or 0):.1f}")
        lines.append(f"{suite:<15}" + "".join(f"{x:>{width}}" for x in cells))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--warps", type=int, default=8, help="warps per real-art regime")
    ap.add_argument("--model", action="append", default=[],
                    help="extra model name or path, or LABEL=PATH (e.g. the previous default: "
                         "git show REV:dacon_engine/weights/default.pt > prev.pt)")
    ap.add_argument("--dinov2-weights", default=None)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "paintbucket_0242")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rows", nargs="+", default=None, metavar="ROW",
                    help="only these rows (names as printed, e.g. 'baseline (plain)' default); "
                         "rows of --model are always run")
    ap.add_argument("--suites", nargs="+", default=None, metavar="SUITE",
                    help="only these suites (e.g. closeup warp-mild sheet)")
    ap.add_argument("--adapt", type=float, default=60.0, metavar="SECONDS",
                    help="time budget of the '--adapt' rows (default 60)")
    ap.add_argument("--adapt-pairs", type=int, default=0, metavar="N",
                    help="'--adapt' rows make exactly N training pairs per case whatever the "
                         "machine's load (the time budget then only caps an hour)")
    args = ap.parse_args()
    if args.adapt_pairs:
        from dacon_engine.training import adapt

        adapt.MAX_PAIRS = args.adapt_pairs
        args.adapt = 3600.0
    os.environ["DACON_CACHE_DIR"] = tempfile.mkdtemp(prefix="dacon-bench-cache-")

    # (row name, model, graph refinement, mirrored references, reference zooms, adapt s);
    # --model LABEL=PATH names a row
    extra = [(m.partition("=")[0], m.partition("=")[2], True, True, (), 0.0) if "=" in m else
             (m, m, True, True, (), 0.0) for m in args.model]
    configs = [("baseline (plain)", "baseline", False, False, (), 0.0),
               ("baseline", "baseline", True, True, (), 0.0),
               ("default (plain)", "default", False, False, (), 0.0),
               ("default --no-mirror", "default", True, False, (), 0.0),
               ("default --no-graph-refine", "default", False, True, (), 0.0),
               ("default", "default", True, True, (), 0.0),
               ("default --ref-zoom 2", "default", True, True, (2.0,), 0.0),
               ("default --ref-zoom 2,3", "default", True, True, (2.0, 3.0), 0.0),
               ("default --adapt", "default", True, True, (), args.adapt),
               ("default --ref-zoom 2 --adapt", "default", True, True, (2.0,), args.adapt),
               *extra]
    if args.rows:
        known = {c[0] for c in configs}
        unknown = [r for r in args.rows if r not in known]
        if unknown:
            ap.error(f"--rows: unknown row(s) {unknown}; choose from {sorted(known)}")
        configs = [c for c in configs if c[0] in args.rows or c in extra]
    if args.dinov2_weights:
        configs.append(("zeroshot-dinov2", "zeroshot-dinov2", True, True, (), 0.0))
    if not (args.real / "line.png").is_file():
        print(f"no real frame at {args.real}: real-art suites skipped")
    suites = benchmark_suites(args.real, args.clips, args.size, args.frames, args.warps)
    if args.suites:
        suites = {k: v for k, v in suites.items() if k in args.suites}
    rows: dict = {}
    for label, model, refine, mirror, zooms, adapt in configs:
        made: list[Colorizer] = []

        def make(model: str = model, refine: bool = refine, mirror: bool = mirror,
                 zooms: tuple = zooms, adapt: float = adapt) -> Colorizer:
            c = Colorizer(model, dinov2_weights=args.dinov2_weights, graph_refine=refine,
                          mirror=mirror, reference_zooms=zooms, adapt_seconds=adapt)
            made.append(c)
            return c
        try:
            make()
        except Exception as e:  # a model that is not available here: say so and go on
            print(f"skip {label}: {e}")
            continue
        for suite, cases in suites.items():
            made.clear()
            t = time.perf_counter()
            m = score_cases(make, cases)
            m["seconds"] = round(time.perf_counter() - t, 1)
            done = [c.adaptation for c in made if c.adaptation is not None]
            if done:
                m["adapted"] = f"{sum(a.used for a in done)}/{len(done)}"
                m["adapt_seconds"] = round(sum(a.seconds for a in done) / len(done), 1)
                m["adapt_pairs"] = round(sum(a.pairs for a in done) / len(done), 1)
                for name, field in (("adapt_val", "val"), ("adapt_generic", "generic")):
                    scored = [a for a in done if getattr(a, f"{field}_adapted") is not None]
                    if scored:
                        m[name] = tuple(round(sum(getattr(a, f"{field}_{k}") for a in scored)
                                              / len(scored), 3) for k in ("base", "adapted"))
            rows.setdefault(suite, {})[label] = m
            note = f", adapted {m['adapted']} in {m['adapt_seconds']} s ({m['adapt_pairs']} " \
                   f"pairs) each, held-out {m.get('adapt_val')}, generic " \
                   f"{m.get('adapt_generic')}" if done else ""
            print(f"{suite:<15} {label:<26} acc {100 * m['acc']:.2f}  ({m['seconds']} s{note})",
                  flush=True)
    print()
    print(format_rows(rows))
    print()
    print("Acc / Acc on segments > 10 px (%)")
    print(side_by_side(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
