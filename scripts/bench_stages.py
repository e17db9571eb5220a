#!/usr/bin/env python
"""What each stage of a frame costs where ``--workers N`` runs it, and what that predicts
for a machine with more cores and a GPU.

A stage worker (one thread, as in a job) reads and segments a frame, builds its segment
graph, prepares its network inputs and pooling plan, and writes its outputs; the model
process receives what the worker sent (unpickling), runs the network and pools (batches
of --batch-size), and matches. Each stage is timed alone over N frames of a keyframe
shot of PaintBucket 0242 at 1920x1920 (a synthetic frame without ../shared).

    .venv/bin/python scripts/bench_stages.py [--frames 12] [--model default]
        [--model-threads 2] [--cores 16] [--gpu-model-ms 8]

The prediction: with C cores, C - 1 stage workers sustain (C - 1) / (worker ms per frame)
frames per second; the model process sustains 1 / (receive + network and pooling +
match); the shot runs at the smaller of the two. ``--gpu-model-ms`` is the network and
pooling per frame on the GPU (default: 8 ms, the default model at batch 8 on an H100,
docs/benchmarks.md "H100", pooling then built on the CPU; measure it there).
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_end_to_end import _write_inputs  # noqa: E402


def _ms(seconds: list[float]) -> float:
    s = sorted(seconds)
    return 1000 * s[len(s) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--model", default="default")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--model-threads", type=int, default=2,
                    help="torch threads of the model process (the stage worker has 1)")
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("--gpu-model-ms", type=float, default=8.0)
    args = ap.parse_args()

    import cv2
    import torch

    from dacon_engine.colorizer import Colorizer
    from dacon_engine.jobs import stages
    from dacon_engine.options import ColorizeOptions

    with tempfile.TemporaryDirectory() as tmp:
        paths, ref, ref_line, source = _write_inputs(Path(tmp) / "in", args.frames)
        opts = ColorizeOptions.from_flat(model=args.model, device="cpu")
        c = Colorizer(None, opts)
        c.add_reference(ref, ref_line)
        net = getattr(c.featurizer, "net", None)
        settings = {"options": opts, "spec": None if net is None else net.input_spec,
                    "out_dir": Path(tmp) / "out", "formats": ("png", "json"),
                    "references": [str(ref)], "overwrite": False, "palette": None}
        settings["out_dir"].mkdir()

        # the stage worker's side, one thread
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        held, sent, wt = [], [], {"segment": [], "graph": [], "prepare": []}
        for p in paths:
            frame, s, graph, timings = stages._prepare(settings, str(p))
            held.append(frame)
            sent.append((s, graph))
            for k, v in timings.items():
                wt[k].append(v)
        payloads = [pickle.dumps(s) for s in sent]
        wt["send (pickle)"] = []
        for s in sent:
            t0 = time.perf_counter()
            pickle.dumps(s)
            wt["send (pickle)"].append(time.perf_counter() - t0)

        # the model process's side
        torch.set_num_threads(args.model_threads)
        recv = []
        for b in payloads:
            t0 = time.perf_counter()
            pickle.loads(b)
            recv.append(time.perf_counter() - t0)
        frames = [s for s, _ in sent]
        c.features(frames[:args.batch_size])  # warm-up
        t0 = time.perf_counter()
        feats = c.features(frames)
        model_ms = 1000 * (time.perf_counter() - t0) / len(frames)
        match = c._matcher(c.bank())
        assigned, mt = [], []
        for f, (_, g) in zip(feats, sent):
            t0 = time.perf_counter()
            assigned.append(match(f, g, None, None)[0])
            mt.append(time.perf_counter() - t0)

        torch.set_num_threads(1)
        wt["write"] = []
        for k, (frame, a) in enumerate(zip(held, assigned)):
            order = {"name": f"f{k:04d}", "assignment": a, "model_name": c.model_name,
                     "matching": {}, "precision": c.running_precision}
            wt["write"].append(stages._write(settings, dataclasses.replace(frame), order)[1])

    worker = {k: _ms(v) for k, v in wt.items()}
    parent = {"receive (unpickle)": _ms(recv),
              f"network + pooling (CPU, {args.model_threads} threads, batch "
              f"{args.batch_size})": model_ms, "match": _ms(mt)}
    print(f"{source} 1920x1920, {args.frames} frames, model {c.model_name}, "
          f"precision {c.running_precision}; median ms per frame")
    print(f"{'stage worker (1 thread)':<48} {'ms':>7}")
    for k, v in worker.items():
        print(f"  {k:<46} {v:>7.1f}")
    w_total = sum(worker.values())
    print(f"  {'total':<46} {w_total:>7.1f}")
    print(f"{'model process':<48} {'ms':>7}")
    for k, v in parent.items():
        print(f"  {k:<46} {v:>7.1f}")
    serial = parent["receive (unpickle)"] + parent["match"]
    for cores, model in ((2, model_ms), (args.cores, args.gpu_model_ms)):
        w = max(1, cores - 1)
        cpu_fps = 1000 * w / w_total
        model_fps = 1000 / (serial + model)
        where = "this CPU" if cores == 2 else f"{cores} cores + a GPU ({model:g} ms model)"
        print(f"prediction, {where}: {w} workers {cpu_fps:.1f} fps, model process "
              f"{model_fps:.1f} fps -> {min(cpu_fps, model_fps):.1f} fps"
              + (" (cores shared with the model: an upper bound)" if cores == 2 else ""))


if __name__ == "__main__":
    main()
