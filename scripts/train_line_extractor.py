"""Train the line extractor (line mode ``learned``) on exported synthetic line art.

Usage: python scripts/train_line_extractor.py [--out dacon_engine/weights/lines.pt]
       [--images 64] [--minutes 8] [--steps 4000] [--seed 0] [--threads 1]

Pairs: clean line art of ``dacon_engine.synth`` (seeds 1000 + i: the line-art benchmark's
held-out drawing is seed 0, PaintBucket 0242 is never seen), each exported twice at
random by :func:`export_pair` (anti-aliased 1-3 px, area-resampled, JPEG, scanned, at
half size, or clean). Targets come from the clean drawing: *line* = its ink (black and trace lines,
thickened as the export was), *separator* = ink pixels with two different regions in
their 3x3 neighbourhood. Losses (binary cross-entropy) count only the pixels the network
decides (:func:`dacon_engine.segmentation.lineextractor.examined`); the line loss weighs
ink, separators and slivers of paper (<= 2 px wide, a 3x3 opening removes them) more
than paper (:data:`WEIGHTS`).
Seeded and time-boxed (``--minutes``); the weights are written atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dacon_engine import synth
from dacon_engine.segmentation import lineart as la, lineextractor as lx
from dacon_engine.segmentation.segments import line_mask
from dacon_engine.synth import linedegrade as d

SIZES = (512, 640, 768)


def export_pair(rgba: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """(exported RGB, the clean drawing's HxW bool ink at that line width, kind)."""
    kind = rng.choice(["aa", "area", "jpeg", "scan", "half", "clean"],
                      p=[0.25, 0.2, 0.2, 0.15, 0.12, 0.08])
    width = 1
    if kind == "half":  # half size: ink where the clean ink covers >= 1/4 of a pixel
        ink = cv2.resize(line_mask(rgba).astype(np.float32), None, fx=0.5, fy=0.5,
                         interpolation=cv2.INTER_AREA) >= 0.25
        img = d.half_resolution(rgba)
        return img, ink[:img.shape[0], :img.shape[1]], "half"
    if kind == "aa":
        width = int(rng.integers(1, 4))
        img = d.antialias(rgba, width, float(rng.uniform(0.5, 1.3)))
    elif kind == "area":
        img = d.area_resample(rgba, float(rng.choice([0.5, 0.6, 0.7])))
    elif kind == "jpeg":
        src = d.antialias(rgba, 1, float(rng.uniform(0.5, 1.0))) if rng.random() < 0.7 \
            else d.area_resample(rgba, 0.5)
        img = d.jpeg(src, int(rng.integers(65, 96)))
    elif kind == "scan":
        paper = tuple(int(v) for v in rng.integers(200, 256, 3))
        img = d.scan(rgba, seed=int(rng.integers(2**31)), paper=paper,
                     ink=int(rng.integers(0, 80)), noise=float(rng.uniform(1.0, 6.0)),
                     sigma=float(rng.uniform(0.4, 1.0)))
    else:
        img = d.flatten(rgba)
    return img, line_mask(d.thicken(rgba, width)), str(kind)


WEIGHTS = {"line": 2.0, "sep": 8.0, "sliver": 3.0}
"""Line-loss weights: ink, separators, slivers of paper (paper: 1). A missed pixel of a
separating line merges two regions, a sliver taken for line loses one small region."""


def targets(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, separator, line-loss weight) float32 planes of a clean ink mask."""
    n, lab = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    k = np.ones((3, 3), np.uint8)
    hi = cv2.dilate(lab.astype(np.float32), k)
    lo = cv2.erode(np.where(lab > 0, lab, n + 1).astype(np.float32), k)
    sep = ink & (hi > 0) & (lo <= n) & (hi != lo)
    paper = (~ink).astype(np.uint8)
    sliver = (paper > 0) & (cv2.morphologyEx(paper, cv2.MORPH_OPEN, k) == 0)
    weight = np.where(ink, WEIGHTS["line"], 1.0)
    weight = np.where(sliver, WEIGHTS["sliver"], np.where(sep, WEIGHTS["sep"], weight))
    return ink.astype(np.float32), sep.astype(np.float32), weight.astype(np.float32)


def make_sample(rgba: np.ndarray, rng: np.random.Generator, r: int) -> dict:
    img, ink, kind = export_pair(rgba, rng)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    lv = la.estimate_levels(img, gray)
    x = lx.dense_features(img, gray, lv)
    x = np.stack([cv2.copyMakeBorder(p, r, r, r, r, cv2.BORDER_REPLICATE) for p in x])
    exam = lx.examined(la.darkness(gray, lv), lv) > 0
    line, sep, weight = targets(ink)
    ys, xs = np.nonzero(exam)
    return {"x": x, "line": line, "sep": sep, "w": weight, "mask": exam.astype(np.float32),
            "pts": np.stack([ys, xs], 1), "kind": kind}


def build(n_images: int, seed0: int, rng: np.random.Generator, r: int) -> list[dict]:
    out = []
    for i in range(n_images):
        size = int(rng.choice(SIZES))
        rgba = synth.make_clip(seed0 + i, n_frames=1, size=size).frames[0].line
        out.append(make_sample(rgba, rng, r))
    return out


def batch(samples: list[dict], rng: np.random.Generator, n: int, crop: int, r: int):
    """n random crops (crop x crop outputs) centred on examined pixels."""
    xs, ts = [], []
    for _ in range(n):
        s = samples[int(rng.integers(len(samples)))]
        h, w = s["line"].shape
        cy, cx = s["pts"][int(rng.integers(len(s["pts"])))]
        y0 = int(np.clip(cy - crop // 2, 0, h - crop))
        x0 = int(np.clip(cx - crop // 2, 0, w - crop))
        xs.append(s["x"][:, y0:y0 + crop + 2 * r, x0:x0 + crop + 2 * r])
        ts.append(np.stack([s[k][y0:y0 + crop, x0:x0 + crop]
                            for k in ("line", "sep", "w", "mask")]))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts))


def loss_of(net: lx.LineNet, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    logits = net(x)
    line, sep, w, m = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
    bl = F.binary_cross_entropy_with_logits(logits[:, 0], line, reduction="none")
    bs = F.binary_cross_entropy_with_logits(logits[:, 1], sep, reduction="none")
    return ((bl * w + bs) * m).sum() / m.sum().clamp(min=1.0)


@torch.no_grad()
def errors(net: lx.LineNet, samples: list[dict]) -> dict:
    """Examined-pixel error (%) of the decision, overall / on slivers of paper / on
    separators, over whole images."""
    wrong = n = ws = ns = wp = np_ = 0.0
    for s in samples:
        logits = net(torch.from_numpy(s["x"])[None])[0]
        pred = (logits.max(0).values >= 0).numpy()
        m = s["mask"] > 0
        bad = (pred != (s["line"] > 0)) & m
        wrong += bad.sum()
        n += m.sum()
        sliver = m & (s["w"] == WEIGHTS["sliver"]) & (s["line"] == 0)
        wp += (bad & sliver).sum()
        np_ += sliver.sum()
        sep = m & (s["sep"] > 0)
        ws += (bad & sep).sum()
        ns += sep.sum()
    return {"err": 100 * wrong / max(n, 1), "sliver_err": 100 * wp / max(np_, 1),
            "sep_err": 100 * ws / max(ns, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=lx.WEIGHTS)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--val-images", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=24)
    ap.add_argument("--radius", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    for k, v in WEIGHTS.items():
        ap.add_argument(f"--{k}-weight", type=float, default=v)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    WEIGHTS.update({k: getattr(args, f"{k}_weight") for k in WEIGHTS})
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    r = args.radius
    t0 = time.perf_counter()
    train = build(args.images, 1000, rng, r)
    val = build(args.val_images, 900, rng, r)
    t_data = time.perf_counter() - t0
    kinds = {k: sum(s["kind"] == k for s in train) for k in sorted({s["kind"] for s in train})}
    print(f"data: {len(train)} train / {len(val)} val images in {t_data:.0f} s; {kinds}",
          flush=True)
    net = lx.LineNet(args.hidden, r)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    t1 = time.perf_counter()
    budget = args.minutes * 60.0
    step = 0
    while step < args.steps and time.perf_counter() - t1 < budget:
        frac = min(max(step / args.steps, (time.perf_counter() - t1) / budget), 1.0)
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * frac))
        x, t = batch(train, rng, args.batch, args.crop, r)
        loss = loss_of(net, x, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 250 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.perf_counter() - t1:.0f} s",
                  flush=True)
    t_train = time.perf_counter() - t1
    ev = errors(net.eval(), val)
    print(f"trained {step} steps in {t_train:.0f} s; val {ev}", flush=True)
    meta = {"steps": step, "train_s": round(t_train, 1), "data_s": round(t_data, 1),
            "images": args.images, "seed": args.seed, "batch": args.batch, "crop": args.crop,
            "lr": args.lr, "weights": dict(WEIGHTS), "hidden": args.hidden,
            "radius": args.radius, "val": {k: round(float(v), 3) for k, v in ev.items()}}
    lx.save(net, args.out, meta)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
