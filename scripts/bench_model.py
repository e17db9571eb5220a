#!/usr/bin/env python
"""Benchmark DACoN featurizers end to end (composite, resize, network, pooling) per frame.

Each configuration runs in a fresh child process so peak memory is its own:
CPU peak = resource.ru_maxrss of the child ("+RSS" = its growth over the RSS right
after importing torch and the engine: model + frame + inference); CUDA peak = torch.cuda.max_memory_allocated.

Synthetic frame: random straight black lines (3 px) on a transparent canvas, regions =
cv2.connectedComponents (4-connectivity) of the non-line pixels, ~300 segments.
Weights are random (timing only): U-Net-only at small widths, and U-Net + a random ViT-S/14
as a stand-in for the DINOv2 cost; on CUDA also ViT-L/14 + full U-Net (v1.1) in bf16 at
several batch sizes.

    python scripts/bench_model.py                  # default table
    python scripts/bench_model.py --sizes 1920x1920 --configs unet16@512 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CPU_CONFIGS = ["unet8@256/32", "unet16@256/32", "unet16@256", "unet16@384", "unet16@512",
               "unet32@512", "unet16@512+vits14"]
CUDA_CONFIGS = ["unet64@512+vitl14"]


def synthetic_frame(h: int, w: int, target: int = 300, seed: int = 0):
    import cv2
    import numpy as np

    from dacon_engine.frames import SegmentedFrame

    rng = np.random.default_rng(seed)
    img = np.full((h, w), 255, np.uint8)
    n = 0
    for _ in range(2000):
        for _ in range(4):
            x0, x1 = rng.integers(0, w, 2)
            y0, y1 = rng.integers(0, h, 2)
            cv2.line(img, (int(x0), int(y0)), (int(x1), int(y1)), 0, 3)
        n, lab = cv2.connectedComponents((img > 0).astype(np.uint8), connectivity=4)
        n -= 1
        if n >= target:
            break
    lab = lab.astype(np.int32)  # 0 = line pixels (the background component is label >= 1)
    line = np.zeros((h, w, 4), np.uint8)
    line[img == 0] = (0, 0, 0, 255)
    return SegmentedFrame(line=line, labels=lab, n_segments=int(n))


def real_frame(folder: str):
    """A PaintBucket frame folder (line.png + seg.png, label = R*65536 + G*256 + B)."""
    import cv2
    import numpy as np

    from dacon_engine.frames import SegmentedFrame

    line = cv2.imread(f"{folder}/line.png", cv2.IMREAD_UNCHANGED)
    seg = cv2.imread(f"{folder}/seg.png", cv2.IMREAD_UNCHANGED)
    if line is None or seg is None:
        raise SystemExit(f"{folder}: needs line.png and seg.png")
    line = cv2.cvtColor(line, cv2.COLOR_BGRA2RGBA if line.shape[-1] == 4 else cv2.COLOR_BGR2RGBA)
    seg = seg[..., ::-1].astype(np.int64)
    raw = (seg[..., 0] << 16) | (seg[..., 1] << 8) | seg[..., 2]
    ids, inv = np.unique(raw, return_inverse=True)
    lab = inv.reshape(raw.shape).astype(np.int32) + (0 if ids[0] == 0 else 1)
    return SegmentedFrame(line=line, labels=lab, n_segments=int(lab.max()))


def build(config: str, device: str):
    import torch

    from dacon_engine.model import DaconConfig, DaconFeaturizer, DaconNet
    from dacon_engine.model.backbone import DinoBackbone, build_dinov2

    unet, _, dino = config.partition("+")
    base, size = unet.removeprefix("unet").split("@")
    size, _, fd = size.partition("/")  # unet16@256/32 = base 16, input 256, 32-d output
    fd = int(fd) if fd else 128
    torch.manual_seed(0)
    if dino:
        bb = DinoBackbone(build_dinov2(dino), norm="raw01")
        cfg = DaconConfig(mode="v1.1", unet_base=int(base), unet_input=int(size), dino_dim=bb.embed_dim)
        net = DaconNet(cfg, bb)
    else:
        net = DaconNet(DaconConfig(mode="unet", unet_base=int(base), unet_input=int(size), feat_dim=fd))
    return DaconFeaturizer(net, device)


def run_one(config: str, size: str, device: str, repeats: int, batch: int) -> dict:
    import torch

    import dacon_engine.model  # noqa: F401 - imports count in the baseline, not the model

    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if "x" in size and size.replace("x", "").isdigit():
        w, h = map(int, size.split("x"))
        frame = synthetic_frame(h, w)
    else:
        frame = real_frame(size)
    feat = build(config, device)
    feat.batch_size = batch
    frames = [frame] * batch
    cuda = feat.device.type == "cuda"
    feat.segment_features(frames)  # warm-up
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        feat.segment_features(frames)
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) / batch)
    # split: network alone (batch of one), then pooling alone
    with torch.inference_mode():
        inp = feat._inputs(frame)
        t = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            maps = feat.net.feature_maps(inp, late_head=True)
        if cuda:
            torch.cuda.synchronize()
        t_net = time.perf_counter() - t
        from dacon_engine.model.pooling import plan_pooling
        maps = {k: v.float() for k, v in maps.items()}
        t = time.perf_counter()
        plan = plan_pooling(frame.labels, frame.n_segments, feat.net.config.pool_cap)
        feat.net.segment_features(maps, 0, plan)
        if cuda:
            torch.cuda.synchronize()
        t_pool = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(config=config, size=size, device=str(feat.device), batch=batch,
                segments=frame.n_segments, ms_per_frame=1000 * statistics.median(times),
                fps=1.0 / statistics.median(times), net_ms=1000 * t_net, pool_ms=1000 * t_pool,
                peak_rss_mb=rss / 1024, rss_growth_mb=(rss - rss_base) / 1024,
                cuda_peak_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                threads=torch.get_num_threads())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="*",
                    help="unet<base>@<input>[/<feat dim>][+vit<s|b|l|g>14], e.g. unet16@256/32 unet64@512+vitl14")
    ap.add_argument("--sizes", nargs="*", default=["1920x1080", "1920x1920"],
                    help="WxH synthetic frames, or a folder with line.png + seg.png (a real frame)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", nargs="*", type=int, default=None,
                    help="batch sizes (default 1 on CPU, 1 4 8 16 on CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.one:
        cfg, size, batch = a.one.split(",")
        print(json.dumps(run_one(cfg, size, a.device, a.repeats, int(batch))))
        return 0
    import torch

    cuda = (a.device == "auto" and torch.cuda.is_available()) or a.device.startswith("cuda")
    configs = a.configs or (CPU_CONFIGS + (CUDA_CONFIGS if cuda else []))
    batches = a.batches or ([1, 4, 8, 16] if cuda else [1])
    print(f"torch {torch.__version__}, device {'cuda' if cuda else 'cpu'}, "
          f"{a.threads or torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.2f}")
    hdr = (f"{'config':<22}{'size':>11}{'batch':>6}{'segs':>6}{'ms/frame':>10}{'fps':>7}"
           f"{'net ms':>8}{'pool ms':>8}{'peakRSS MB':>11}{'+RSS MB':>9}{'cudaMB':>8}")
    print(hdr)
    print("-" * len(hdr))
    for cfg in configs:
        for size in a.sizes:
            for b in (batches if "vitl" in cfg or cuda else [1]):
                cmd = [sys.executable, __file__, "--one", f"{cfg},{size},{b}", "--device", a.device,
                       "--repeats", str(a.repeats)] + (["--threads", str(a.threads)] if a.threads else [])
                p = subprocess.run(cmd, capture_output=True, text=True)
                label = size if len(size) <= 11 else "real:" + os.path.basename(size.rstrip("/"))[-6:]
                if p.returncode:
                    print(f"{cfg:<22}{label:>11}{b:>6}  FAILED: {p.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
                cm = f"{r['cuda_peak_mb']:.0f}" if r["cuda_peak_mb"] is not None else "-"
                print(f"{cfg:<22}{label:>11}{b:>6}{r['segments']:>6}{r['ms_per_frame']:>10.0f}"
                      f"{r['fps']:>7.2f}{r['net_ms']:>8.0f}{r['pool_ms']:>8.0f}"
                      f"{r['peak_rss_mb']:>11.0f}{r['rss_growth_mb']:>9.0f}{cm:>8}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
