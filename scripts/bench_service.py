#!/usr/bin/env python
"""Engine service overhead: the same colorize job through the protocol vs in-process.

Prints, per model: the in-process time per frame (ColorizeJob.run), the service time per
frame (client request -> job_done, warm engine with the model loaded), their difference
(noisy: two processes), the protocol overhead per frame measured directly (client wall
time minus the engine's own job time, over the frames; target < 5 ms), and the first-frame
latency of a
warm engine (request sent -> first frame_done) against the in-process time to the first
frame. Runs alternate and the medians are reported.

    .venv/bin/python scripts/bench_service.py [--frames 24] [--size 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from clips import make_shot  # noqa: E402
from dacon_engine.client import EngineClient  # noqa: E402
from dacon_engine.jobs.pipeline import ColorizeJob  # noqa: E402


def in_process(shot: dict, out: Path, model: str) -> tuple[float, float]:
    """(total seconds, seconds to the first frame) for one in-process job."""
    t0 = time.perf_counter()
    first: list[float] = []
    job = ColorizeJob.create([str(shot["root"] / "line")], out=out, refs=[shot["ref"]],
                             ref_lines=[shot["ref_line"]], overwrite=True, quiet=True,
                             model=model, device="cpu")
    job.run(on_frame=lambda *a: first or first.append(time.perf_counter() - t0))
    return time.perf_counter() - t0, first[0]


def via_service(client: EngineClient, shot: dict, out: Path,
                model: str) -> tuple[float, float, float]:
    """(client wall seconds, seconds to the first frame_done, engine-side job seconds)."""
    t0 = time.perf_counter()
    job = client.colorize(targets=[str(shot["root"] / "line")], out=str(out),
                          references=[{"color": str(shot["ref"]), "line": str(shot["ref_line"])}],
                          overwrite=True, model=model, device="cpu")
    first = None
    while not job.done:
        if first is None and job.frames:
            first = time.perf_counter() - t0
        time.sleep(0.0005)
    total = time.perf_counter() - t0
    result = job.wait()
    return total, first if first is not None else total, result["job_seconds"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["baseline", "default"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shot = make_shot(root / "shot", n=args.frames, size=args.size)
        t0 = time.perf_counter()
        client = EngineClient(sys.executable)
        client.start()
        print(f"engine start (hello answered): {time.perf_counter() - t0:.2f} s")
        print(f"{args.frames} frames of {args.size}x{args.size}, CPU, medians of "
              f"{args.repeats} alternating runs")
        print(f"{'model':<9} {'in-process ms/frame':>20} {'service ms/frame':>17} "
              f"{'A-B diff ms/frame':>18} {'protocol ms/frame':>18} "
              f"{'first frame ms (api / service)':>31}")
        for model in args.models:
            client.load_model(model, device="cpu").wait()
            in_process(shot, root / "warm", model)  # warm caches in this process too
            api, svc = [], []
            for _ in range(args.repeats):
                api.append(in_process(shot, root / "a", model))
                svc.append(via_service(client, shot, root / "b", model))
            a_tot = statistics.median(x[0] for x in api)
            s_tot = statistics.median(x[0] for x in svc)
            a_first = statistics.median(x[1] for x in api)
            s_first = statistics.median(x[1] for x in svc)
            proto = statistics.median(x[0] - x[2] for x in svc)
            n = args.frames
            print(f"{model:<9} {1000 * a_tot / n:>20.1f} {1000 * s_tot / n:>17.1f} "
                  f"{1000 * (s_tot - a_tot) / n:>18.2f} {1000 * proto / n:>18.3f} "
                  f"{1000 * a_first:>15.0f} / {1000 * s_first:<14.0f}")
        client.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
