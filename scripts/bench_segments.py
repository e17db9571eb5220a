"""Benchmark line-art segmentation on a 1920x1920 frame, single-threaded.

Usage: python scripts/bench_segments.py [--runs N] [--image PATH] [--synthetic] [--malloc-tuned]
       python scripts/bench_segments.py --degraded [--runs N] [--colorize N [--model M]] [--malloc-tuned]

Uses the shared PaintBucket line.png (../shared/data/paintbucket_0242 beside the repo)
when present (resized to 1920x1920 if needed), else a synthetic frame of random closed
shapes with a few gaps and color lines. Prints median (and min) wall-clock milliseconds.

``--degraded``: the line-art robustness table. For 0242 and a 1920x1920 frame of
``dacon_engine.synth``: clean, anti-aliased (widths 1-3, blurs 0.6-1.2), area-resampled
(2x down, back up), half resolution, JPEG 90/80/70 (of the 1-px anti-aliased art) and a
simulated scan (``dacon_engine.synth.linedegrade``), and the clean art redrawn with 1-px
8-connected lines (an aliased pen's strokes; still clean art, compared with its own
fixed segmentation: a row for the colorize table). Per variant: the mode ``auto`` picked,
the clean drawing's regions of >= 10 px recovered one-to-one (mutual best overlap; for
thickened variants the clean drawing is the thickened aliased art; at half resolution,
regions of >= 10 px at that size, compared on the full-size grid), extra segments of >=
10 px, and the median ms per frame. Color-trace-line pixels (the clean drawing's and
ours) are not counted there: which region owns a trace line is the color-line
convention's choice (the smallest region it touches, often a sliver of a few px, so a
region "of >= 10 px" can be 3 px plus an 800-px trace line); the last two columns count
them as the regions they were given. ``--colorize N``: also the default model's accuracy
on N warped copies of each 0242 variant (reference: the clean frame and its gt; ground
truth per segment from the warped clean gt). ``--malloc-tuned``: with the allocator
setting the ``dacon`` CLI and the service apply (:mod:`dacon_engine.jobs.malloctune`); the
library alone (default) pays the page faults of fresh full-frame arrays.
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

from dacon_engine.fileio.images import read_image
from dacon_engine.options import LineOptions
from dacon_engine.segmentation.segments import PIXEL_TRACE, segment_line_art, segment_line_art_details

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
    ap.add_argument("--degraded", action="store_true",
                    help="the robustness table (anti-aliasing, resampling, JPEG, scan)")
    ap.add_argument("--colorize", type=int, default=0, metavar="N",
                    help="with --degraded: colorize accuracy on N warps per 0242 variant")
    ap.add_argument("--model", default="default",
                    help="with --colorize: the model to colorize with (name or file)")
    ap.add_argument("--line-widen", type=float, default=None, metavar="X",
                    help="with --colorize: override the model's line widening (0 = off)")
    ap.add_argument("--synth-seed", type=int, default=0)
    ap.add_argument("--line-modes", default="auto", metavar="M[,M...]",
                    help="with --degraded: line modes to compare side by side (e.g. "
                         "auto,learned)")
    ap.add_argument("--lines-weights", type=Path, default=None,
                    help="line-extractor weights for mode learned (default: the shipped)")
    ap.add_argument("--learned-margin", default=None, metavar="X|none",
                    help="mode learned: the network overrules the rules where its logit is "
                         "beyond +-X (default: the shipped setting); none: the network alone")
    ap.add_argument("--decision", action="store_true",
                    help="with --degraded: time the line decisions alone (adaptive rules, the "
                         "learned network pass, mode learned's whole decision) per variant")
    ap.add_argument("--malloc-tuned", action="store_true",
                    help="apply the CLI / service allocator setting (dacon_engine.jobs.malloctune)")
    args = ap.parse_args()
    from dacon_engine.model.network import LINE_WIDEN_MAX

    if args.line_widen is not None and not 0 <= args.line_widen <= LINE_WIDEN_MAX:
        ap.error(f"--line-widen must be from 0 to {LINE_WIDEN_MAX:g}, got {args.line_widen}")
    cv2.setNumThreads(1)
    if args.malloc_tuned:
        from dacon_engine.jobs.malloctune import keep_freed_memory

        print(f"malloc tuned: {keep_freed_memory()}")
    if args.lines_weights is not None:
        from dacon_engine.segmentation import lineextractor

        lineextractor.WEIGHTS = args.lines_weights.resolve()
    if args.learned_margin is not None:
        from dacon_engine.segmentation import lineextractor

        lineextractor.MARGIN = None if args.learned_margin == "none" else float(
            args.learned_margin)
    if args.degraded:
        degraded_table(args)
        return

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

def variants(rgba: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray, int, np.ndarray]]:
    """(name, degraded image, clean labels to compare with, scale, the clean drawing's
    trace-line pixels) for one clean frame. scale: 2 where the variant is at half size."""
    from dacon_engine.synth import linedegrade as d

    def clean_of(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels, _, _, cls = segment_line_art_details(img, line_options=LineOptions(mode="fixed"),
                                                     classes=True)
        return labels, cls == PIXEL_TRACE

    clean, trace = clean_of(rgba)
    thick = {w: clean_of(d.thicken(rgba, w)) for w in (2, 3)}
    thin = d.thin_lines(rgba)
    thin_labels, thin_trace = clean_of(thin)
    aa1 = d.antialias(rgba, 1, 0.6)
    return [
        ("clean", d.flatten(rgba), clean, 1, trace),
        ("thin 1px 8-conn", thin, thin_labels, 1, thin_trace),
        ("aa 1px s0.6", aa1, clean, 1, trace),
        ("aa 1px s1.0", d.antialias(rgba, 1, 1.0), clean, 1, trace),
        ("aa 2px s0.8", d.antialias(rgba, 2, 0.8), thick[2][0], 1, thick[2][1]),
        ("aa 3px s1.2", d.antialias(rgba, 3, 1.2), thick[3][0], 1, thick[3][1]),
        ("area 2x down-up", d.area_resample(rgba), clean, 1, trace),
        ("half resolution", d.half_resolution(rgba), clean, 2, trace),
        ("jpeg 90", d.jpeg(aa1, 90), clean, 1, trace),
        ("jpeg 80", d.jpeg(aa1, 80), clean, 1, trace),
        ("jpeg 70", d.jpeg(aa1, 70), clean, 1, trace),
        ("scan", d.scan(rgba), clean, 1, trace),
    ]


def degraded_table(args) -> None:
    from dacon_engine.synth import linedegrade as d

    frames = []
    if SHARED_LINE.exists():
        frames.append(("0242", read_image(SHARED_LINE)))
    from dacon_engine import synth

    clip = synth.make_clip(args.synth_seed, n_frames=1, size=SIZE)
    frames.append((f"synth{args.synth_seed}", clip.frames[0].line))
    modes = [m.strip() for m in args.line_modes.split(",") if m.strip()]
    import torch

    torch.set_num_threads(1)  # the learned mode's network: one core, as OpenCV
    if args.decision:
        decision_table(frames, args.runs)
        return
    head = (f"{'frame':<7} {'variant':<16} {'mode':<8} {'segs':>5} {'regions':>7} "
            f"{'recovered':>9} {'extra':>5} {'ms':>6} | {'w/ trace px':>11} {'extra':>5}")
    print(f"line-art robustness, 1 thread, median of {args.runs} runs, modes {modes}")
    print(head)
    print("-" * len(head))
    for fname, rgba in frames:
        for name, img, ref, scale, ref_trace in variants(rgba):
            for mode in modes:
                opts = LineOptions(mode=mode)
                labels, n, info, cls = segment_line_art_details(img, classes=True,
                                                                line_options=opts)
                ms = statistics.median(timings_ms(
                    lambda: segment_line_art(img, line_options=opts), args.runs))
                trace = cls == PIXEL_TRACE
                if scale != 1:
                    size = (ref.shape[1], ref.shape[0])
                    labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
                    trace = cv2.resize(trace.view(np.uint8), size,
                                       interpolation=cv2.INTER_NEAREST) > 0
                # trace-line pixels not counted (either drawing's): see match_regions
                r = d.match_regions(ref, labels, 10 * scale * scale, ignore=ref_trace | trace)
                w = d.match_regions(ref, labels, 10 * scale * scale)
                pct = 100.0 * r["recovered"] / max(r["regions"], 1)
                pct_w = 100.0 * w["recovered"] / max(w["regions"], 1)
                print(f"{fname:<7} {name:<16} {info['line_mode']:<8} {n:>5} "
                      f"{r['regions']:>7} {pct:>8.1f}% {r['extra']:>5} {ms:>6.1f} | "
                      f"{pct_w:>10.1f}% {w['extra']:>5}", flush=True)
    if args.colorize > 0 and SHARED_LINE.exists():
        for mode in modes:
            colorize_table(read_image(SHARED_LINE), read_image(SHARED_LINE.parent / "gt.png"),
                           args.colorize, args.model, args.line_widen, mode)


def decision_table(frames, runs: int) -> None:
    """Median ms of the line decisions alone on each exported variant: adaptive mode's
    rules (``adaptive_lines``), the learned network's pass (features, gathering, network:
    ``lineextractor.logits``) and mode learned's whole decision (``learned_lines``: the
    rules, the network, the overrules), with the pixels the network examines."""
    from dacon_engine.segmentation import lineart as la, lineextractor as lx

    rules = la.LineRules()
    net = lx.shipped()
    head = f"{'frame':<7} {'variant':<16} {'examined':>9} {'rules':>7} {'network':>8} {'learned':>8}"
    print(f"line decisions alone, ms, 1 thread, median of {runs} runs")
    print(head)
    print("-" * len(head))
    for fname, rgba in frames:
        for name, img, _, _, _ in variants(rgba):
            if name in ("clean", "thin 1px 8-conn"):
                continue
            gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            lv = la.estimate_levels(img, gray)
            dark = la.darkness(gray, lv)
            n = cv2.countNonZero(lx.examined(dark, lv))
            ms = [statistics.median(timings_ms(fn, runs)) for fn in (
                lambda: la.adaptive_lines(img, gray, lv, rules, dark),
                lambda: lx.logits(net, img, gray, lv, dark),
                lambda: lx.learned_lines(img, gray, lv, rules, dark, net))]
            print(f"{fname:<7} {name:<16} {n:>9} {ms[0]:>7.1f} {ms[1]:>8.1f} {ms[2]:>8.1f}",
                  flush=True)


def colorize_table(line: np.ndarray, gt: np.ndarray, n_warps: int,
                   model: str = "default", line_widen: float | None = None,
                   line_mode: str = "auto") -> None:
    """A model's accuracy (the default's unless told) on warped copies of each variant of
    one real frame. The reference is the clean frame, except for the thin-line variant:
    the frame redrawn with the same thin lines (a studio draws its references with the
    same pen). ``line_widen``: override the model's (see ``DaconConfig.line_widen``);
    ``line_mode``: how the targets are segmented (the references always by ``auto``)."""
    from dacon_engine.colorizer import Colorizer
    from dacon_engine.frames import SegmentedFrame
    from dacon_engine.evaluation.metrics import frame_metrics, mean_metrics
    from dacon_engine.evaluation.quality import warp_suite
    from dacon_engine.segmentation.references import segment_colors
    from dacon_engine.segmentation.segments import segment_frame

    torch_threads()
    case = warp_suite(line, gt, seed=0, n=n_warps)[0]
    def colorizer(ref: np.ndarray) -> Colorizer:
        c = Colorizer(model)
        if line_widen is not None:
            c.featurizer.net.config.line_widen = line_widen
        c.add_reference(gt, ref)
        return c

    from dacon_engine.synth.linedegrade import thin_lines

    c, c_thin = colorizer(line), colorizer(thin_lines(line))
    widen = c.featurizer.net.config.line_widen
    print()
    print(f"colorize, model {model} (line_widen {widen}), 1 reference (clean 0242; the "
          f"thin variant: 0242 in thin lines), {n_warps} warped targets, line mode {line_mode}")
    head = f"{'variant':<16} {'acc':>7} {'acc_thres':>9} {'pix_acc':>8}"
    print(head)
    print("-" * len(head))
    per: dict[str, list] = {}
    jobs: dict[bool, tuple[list, list, list]] = {False: ([], [], []), True: ([], [], [])}
    for t_line, t_gt in case.targets:
        for name, img, _, scale, _ in variants(t_line):
            fr = segment_frame(img, line_options=LineOptions(mode=line_mode))
            g = t_gt if scale == 1 else cv2.resize(t_gt, (img.shape[1], img.shape[0]),
                                                   interpolation=cv2.INTER_NEAREST)
            frames, truths, names = jobs[name.startswith("thin")]
            frames.append(SegmentedFrame(fr.line, fr.labels, fr.n_segments))
            truths.append(segment_colors(fr.labels, fr.n_segments, g))
            names.append(name)
            per.setdefault(name, [])
    for thin, (frames, truths, names) in jobs.items():
        results = (c_thin if thin else c).colorize(frames)
        for res, truth, name in zip(results, truths, names):
            per[name].append(frame_metrics(res.frame.labels, truth, res.assignment.colors))
    for name, rows in per.items():
        m = mean_metrics(rows)
        print(f"{name:<16} {100 * m['acc']:>6.1f}% {100 * m['acc_thres']:>8.1f}% "
              f"{100 * m['pix_acc']:>7.1f}%", flush=True)


def torch_threads() -> None:
    import torch

    torch.set_num_threads(2)


if __name__ == "__main__":
    main()
