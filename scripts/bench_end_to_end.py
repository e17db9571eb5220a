#!/usr/bin/env python
"""End-to-end throughput of `dacon colorize` at 1920x1920, and memory in the number of
references.

Shot mode (default): a keyframe shot of N frames (PaintBucket 0242 shifted per frame, or a
synthetic 1920x1920 frame without ../shared), one reference, the real file-level job
(read, segment, features, match, write PNG + JSON); model loading and references excluded
from the frame rate. Each configuration runs in a fresh process, so its peak RSS is its own.

    .venv/bin/python scripts/bench_end_to_end.py [--frames 10 100] [--workers 1 2]
        [--model default] [--threads 0] [--sequential] [--no-graph-refine] [--no-mirror]
        [--precision fp32 auto] [--rounds 2]   # --rounds: the precisions alternate in one process
        [--mode keyframe|consecutive|nearest] [--layout auto|frames|stages]
    (with --rounds, "CPU ms/frame" is the process's CPU time per frame after the first: on a
    shared machine it shows the work where wall-clock fps shows the neighbours' load)

Reference mode: peak RSS and time with R references of 1920x1920 and one target.

    .venv/bin/python scripts/bench_end_to_end.py --refs 1 10 40 100
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "paintbucket_0242"


def _frame() -> tuple[np.ndarray, np.ndarray, str]:
    from dacon_engine.fileio.images import read_image

    if (REAL / "line.png").is_file():
        return read_image(REAL / "line.png"), read_image(REAL / "gt.png"), "PaintBucket 0242"
    from dacon_engine import synth

    f = synth.make_clip(7, n_frames=1, size=1920).frames[0]
    return f.line, f.gt, "synthetic"


def _write_inputs(folder: Path, n: int) -> tuple[list[Path], Path, Path, str]:
    from dacon_engine.fileio.images import write_png

    line, gt, source = _frame()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        p = folder / f"line_{k + 1:04d}.png"
        write_png(p, np.roll(line, 8 * k, axis=1))
        paths.append(p)
    ref, ref_line = folder / "ref.png", folder / "ref_line.png"
    write_png(ref, gt)
    write_png(ref_line, line)
    return paths, ref, ref_line, source


def child_shot(args: argparse.Namespace) -> dict:
    import torch

    from dacon_engine.jobs.pipeline import ColorizeJob

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.layout != "auto":  # force how --workers splits the job
        import dacon_engine.jobs.pipeline as pl

        pl.worker_layout = lambda mode, device: args.layout
    with tempfile.TemporaryDirectory() as tmp:
        paths, ref, ref_line, source = _write_inputs(Path(tmp) / "in", args.n)
        job = ColorizeJob.create([str(p) for p in paths], out=Path(tmp) / "out", refs=[ref],
                                 ref_lines=[ref_line], quiet=True, model=args.model,
                                 device=args.device, workers=args.w, batch_size=args.batch_size,
                                 precision=args.precision[0], mode=args.mode,
                                 graph_refine=args.graph_refine, mirror=args.mirror)
        if args.sequential:  # writes not overlapped with the model (for comparison)
            import dacon_engine.jobs.pipeline as pl

            pl.WRITES_IN_FLIGHT = 0
        first: list[float] = []
        t0 = time.perf_counter()
        summary = job.run(on_frame=lambda *a: first or first.append(time.perf_counter()))
        total = time.perf_counter() - t0
        # the frame rate counts from the first frame out (references and start-up excluded)
        rate = (summary.frames_done - 1) / (time.perf_counter() - first[0]) if len(first) else 0
        rate = rate if summary.frames_done > 1 else summary.frames_done / total
    return {"source": source, "frames": summary.frames_done, "fps": rate,
            "precision": job.colorizer.running_precision,
            "seconds": total, "model": summary.model, "threads": torch.get_num_threads(),
            "timings": {k: round(v / max(1, summary.frames_done) * 1000, 1)
                        for k, v in summary.timings.items() if k != "references"},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_alternating(args: argparse.Namespace) -> dict:
    """The same N-frame shot colorized once per precision per round, alternating (order
    reversed every other round) in one process: machine noise hits every precision alike."""
    import torch

    from dacon_engine.jobs.pipeline import ColorizeJob

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        paths, ref, ref_line, source = _write_inputs(Path(tmp) / "in", args.n)
        configs = [(p, t) for p in args.precision for t in args.alt_threads or [0]]
        for r in range(args.rounds):
            for prec, threads in (configs if r % 2 == 0 else configs[::-1]):
                if threads:
                    torch.set_num_threads(threads)
                job = ColorizeJob.create(
                    [str(p) for p in paths], out=Path(tmp) / f"out{r}{prec}{threads}", refs=[ref],
                    ref_lines=[ref_line], quiet=True, model=args.model, device=args.device,
                    workers=1, batch_size=args.batch_size, precision=prec,
                    graph_refine=args.graph_refine, mirror=args.mirror)
                first: list[tuple[float, float]] = []
                summary = job.run(on_frame=lambda *a: first or first.append(
                    (time.perf_counter(), _cpu_seconds())))
                fps = (summary.frames_done - 1) / (time.perf_counter() - first[0][0])
                cpu_ms = (_cpu_seconds() - first[0][1]) / (summary.frames_done - 1) * 1000
                print(json.dumps({  # one line per run, as it ends
                    "round": r, "precision": prec, "ran": job.colorizer.running_precision,
                    "threads": torch.get_num_threads(), "cpu_ms": round(cpu_ms),
                    "fps": fps, "timings": {k: round(v / summary.frames_done * 1000, 1)
                                            for k, v in summary.timings.items()
                                            if k != "references"}}), flush=True)
    return {"source": source, "model": summary.model, "threads": torch.get_num_threads()}


def child_refs(args: argparse.Namespace) -> dict:
    from dacon_engine.colorizer import Colorizer
    from dacon_engine.fileio.images import read_image, write_png

    line, gt, source = _frame()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_png(tmp / "ref.png", gt)
        write_png(tmp / "ref_line.png", line)
        write_png(tmp / "target.png", np.roll(line, 16, axis=1))
        c = Colorizer(args.model, device=args.device, keep_reference_images=False,
                      graph_refine=args.graph_refine, mirror=args.mirror)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        for k in range(args.n):  # the same drawing R times: the bank grows like R sheets
            c.add_reference(tmp / "ref.png", tmp / "ref_line.png", name=f"ref{k}")
        t_refs = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = next(iter(c.colorize([tmp / "target.png"])))
        t_target = time.perf_counter() - t0
        del read_image, result
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"source": source, "refs": args.n, "peak_rss_mb": peak, "base_rss_mb": base,
            "seconds_references": t_refs, "seconds_target": t_target}


def run_child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--refs", type=int, nargs="+", default=None)
    ap.add_argument("--model", default="default")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", nargs="+", default=["auto"],
                    help="network precisions to compare (auto, fp32, bf16), one run each")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--mode", default="keyframe", choices=("keyframe", "consecutive", "nearest"))
    ap.add_argument("--layout", default="auto", choices=("auto", "frames", "stages"),
                    help="how --workers splits the job (auto: as the job picks)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--sequential", action="store_true",
                    help="also run the single-process path with writes not overlapped (comparison)")
    ap.add_argument("--graph-refine", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--rounds", type=int, default=0,
                    help="alternate the --precision values on one --frames shot in one "
                         "process, this many rounds (workers 1)")
    ap.add_argument("--alt-threads", type=int, nargs="+", default=None,
                    help="with --rounds: also alternate these torch thread counts")
    ap.add_argument("--child", choices=("shot", "refs", "alt"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--w", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = {"shot": child_shot, "refs": child_refs, "alt": child_alternating}[args.child]
        print(json.dumps(fn(args)))
        return
    common = ["--model", args.model, "--device", args.device, "--threads", str(args.threads),
              "--mode", args.mode, "--layout", args.layout,
              "--batch-size", str(args.batch_size),
              "--graph-refine" if args.graph_refine else "--no-graph-refine",
              "--mirror" if args.mirror else "--no-mirror"]
    if args.refs:
        print(f"{'refs':>5} {'peak RSS MB':>12} {'MB per ref':>11} {'refs s':>8} {'target s':>9}")
        for n in args.refs:
            r = run_child(["--child", "refs", "--n", str(n), *common])
            per = (r["peak_rss_mb"] - r["base_rss_mb"]) / n
            print(f"{n:>5} {r['peak_rss_mb']:>12.0f} {per:>11.1f} "
                  f"{r['seconds_references']:>8.1f} {r['seconds_target']:>9.2f}")
        return
    if args.rounds:
        print(f"{'round':>5} {'precision':>9} {'ran':>5} {'threads':>7} {'fps':>6} "
              f"{'ms/frame':>9} {'CPU ms/frame':>12}  stage ms/frame", flush=True)
        with subprocess.Popen([sys.executable, __file__, "--child", "alt", "--n",
                               str(args.frames[0]), "--rounds", str(args.rounds),
                               "--precision", *args.precision, *common,
                               *(["--alt-threads", *map(str, args.alt_threads)]
                                 if args.alt_threads else [])],
                              stdout=subprocess.PIPE, text=True) as child:
            for line in child.stdout:
                r = json.loads(line)
                if "round" in r:
                    print(f"{r['round']:>5} {r['precision']:>9} {r['ran']:>5} "
                          f"{r.get('threads', ''):>7} {r['fps']:>6.2f} "
                          f"{1000 / r['fps']:>9.0f} {r['cpu_ms']:>12}  {r['timings']}",
                          flush=True)
        if child.returncode:
            raise SystemExit(child.returncode)
        print(f"({r['source']} 1920x1920, {args.frames[0]} frames, model {r['model']}, torch "
              f"threads {r['threads']}, graph refine {args.graph_refine}, mirror "
              f"{args.mirror}; fps counted from the first frame out)")
        return
    configs = [(n, w, False, p) for n in args.frames for w in args.workers
               for p in args.precision]
    if args.sequential:
        configs += [(n, 1, True, p) for n in args.frames for p in args.precision]
    print(f"{'frames':>6} {'workers':>7} {'path':>10} {'prec':>5} {'fps':>6} {'ms/frame':>9} "
          f"{'job fps':>7} {'peak RSS MB (main / workers)':>29}  stage ms/frame")
    for n, w, seq, prec in configs:
        argv = ["--child", "shot", "--n", str(n), "--w", str(w), "--precision", prec, *common]
        r = run_child(argv + (["--sequential"] if seq else []))
        path = "no w-overlap" if seq else "pipelined"
        print(f"{n:>6} {w:>7} {path:>10} {r['precision']:>5} {r['fps']:>6.2f} "
              f"{1000 / max(r['fps'], 1e-9):>9.0f} {r['frames'] / r['seconds']:>7.2f} "
              f"{r['peak_rss_mb']:>14.0f} / {r['children_peak_rss_mb']:<12.0f}  {r['timings']}",
              flush=True)
    print(f"({r['source']} 1920x1920, {args.mode} mode, layout {args.layout}, model {r['model']}, "
          f"torch threads {r['threads']}, "
          f"graph refine {args.graph_refine}, mirror {args.mirror}; "
          "fps counted from the first frame out; job fps: the whole job, start-up, "
          "reference and model loading included)")


if __name__ == "__main__":
    main()
