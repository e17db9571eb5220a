#!/usr/bin/env python3
"""Benchmark the Grease Pencil round trip in real Blender (PyPI bpy), with the real engine.

    .venv-bpy50/bin/python scripts/bench_gpencil.py [--frames 12] [--size 320x240]
    .venv-bpy42/bin/python scripts/bench_gpencil.py --json bench.json

1. A generated GP animation: a closed-shape character of 12 parts (strokes 0.025-0.07
   units wide) moving over ``--frames`` frames; frame 1 filled by hand (fill strokes) is the
   reference sheet. A hidden "Truth" layer holds the right fills of every frame.
2. The add-on's plain functions render the line art, colorize it in the engine (.venv),
   trace the segments and write the fill strokes back.
3. Accuracy, per frame, read back from Workbench renders of the result: ``parts`` = parts
   whose color at an inside point is right; ``pixels`` = share of the character's fill
   pixels (not lines) whose color matches a render of the truth layer (within 3 levels).
4. Write-back speed for 200+ segments: a grid of 240 cells, colorized and written back.
Times per frame: render (line art), colorize (engine, model already loaded), trace, fills.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "blender")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

import gp_scene as G  # noqa: E402
from dacon_blender_addon import compat_gpencil as cg  # noqa: E402
from dacon_blender_addon import gp_colorize, gp_frames, gp_render, ops_gpencil  # noqa: E402
from dacon_engine.client import EngineClient  # noqa: E402

STEP = (0.05, 0.02)
TOL = 3


def render(scene, path: Path, frame: int) -> np.ndarray:
    with gp_render.overridden(gp_render.render_settings(scene)):
        scene.frame_set(frame)
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True, scene=scene.name)
    return G.read_png(str(path))


def add_truth_layer(obj, parts, frames: int) -> object:
    """Hidden layer with the right fills of every frame (moved like the drawing)."""
    gp = obj.data
    slots = {m.name: i for i, m in enumerate(gp.materials)}
    layer = cg.new_layer(gp, "Truth")
    order = sorted(range(len(parts)), key=lambda i: -G._area(parts[i].outline))
    for f in range(1, frames + 1):
        dx, dz = STEP[0] * (f - 1), STEP[1] * (f - 1)
        cg.add_strokes(cg.new_frame(layer, f), [
            ([(x + dx, 0.0, z + dz) for x, z in parts[i].outline],
             slots[f"Paint {parts[i].name}"]) for i in order])
    layer.hide = True
    cg.move_layer_below(gp, layer, cg.find_layer(gp, "Lines"))
    return layer


def accuracy(scene, obj, parts, frames: int, size, work: Path) -> list[dict]:
    gp = obj.data
    fills, truth = cg.find_layer(gp, gp_frames.FILL_LAYER), cg.find_layer(gp, "Truth")
    out = []
    for f in range(1, frames + 1):
        fills.hide, truth.hide = False, True
        got = render(scene, work / f"result_{f:04d}.png", f)
        fills.hide, truth.hide = True, False
        want = render(scene, work / f"truth_{f:04d}.png", f)
        fills.hide, truth.hide = False, True
        line = G.read_png(str(work / "line" / f"{f:04d}.png"))[..., 3] == 255
        region = (want[..., 3] == 255) & ~line
        ok = np.all(np.abs(got[..., :3].astype(int) - want[..., :3]) <= TOL, axis=2)
        ok &= got[..., 3] == 255
        centers = G.part_centers(parts, f, size, step=STEP)
        right = [bool(np.all(np.abs(got[y, x, :3].astype(int) - p.color) <= TOL))
                 for p, (x, y) in zip(parts, centers)]
        out.append({"frame": f, "parts": sum(right), "of": len(parts),
                    "missed": [p.name for p, r in zip(parts, right) if not r],
                    "pixels": round(float(ok[region].mean()), 4)})
    return out


def grid_parts(cols: int = 20, rows: int = 12) -> list[G.Part]:
    palette = [(220, 60, 60), (60, 160, 80), (60, 90, 220), (230, 200, 60), (160, 80, 200),
               (240, 150, 60), (80, 200, 210), (200, 200, 200)]
    w, h = 3.6 / cols, 2.6 / rows
    parts = []
    for r in range(rows):
        for c in range(cols):
            x0, z0 = -1.8 + c * w, -1.3 + r * h
            parts.append(G.Part(f"Cell {r}-{c}", G.rect(x0, z0, x0 + w, z0 + h),
                                palette[(r * 3 + c) % len(palette)], 0.012))
    return parts


def run(parts, frames, size, work: Path, engine, *, truth: bool) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene, obj = G.make_scene(parts, frames=frames, size=size, step=STEP)
    if truth:
        add_truth_layer(obj, parts, frames)
    s = obj.dacon_gp
    s.output_dir = str(work)
    ref = s.references.add()
    ref.source = "FRAME"
    ref.frame = 1
    t0 = time.perf_counter()
    report = gp_colorize.colorize_object(scene, obj, client=engine)
    report["wall"] = time.perf_counter() - t0
    report["scene"], report["object"] = scene, obj
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", default="320x240", help="render size WxH")
    ap.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                    help="engine interpreter")
    ap.add_argument("--work", type=Path, default=None, help="keep the files here")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    work = args.work or Path(tempfile.mkdtemp(prefix="dacon-bench-gp-"))
    ops_gpencil.register()
    engine = EngineClient(args.python, env={"OMP_NUM_THREADS": str(os.cpu_count() or 1)})
    engine.start(timeout=300)
    engine.load_model().wait(300)
    print(f"bpy {bpy.app.version_string}, {'GP v3' if cg.is_v3() else 'legacy GP'}, "
          f"{size[0]}x{size[1]}, {args.frames} frames, engine {engine.info['engine_version']} "
          f"on {engine.info['devices'][0]['name'] if engine.info.get('devices') else 'cpu'}")
    try:
        parts = G.character()
        rep = run(parts, args.frames, size, work / "character", engine, truth=True)
        acc = accuracy(rep["scene"], rep["object"], parts, args.frames, size,
                       work / "character")
        n = rep["rendered"]
        sec = rep["seconds"]
        print(f"\ncharacter: {len(parts)} parts, {rep['fills']['strokes'] / n:.1f} fill "
              f"strokes/frame, {rep['fills']['holes']} holdout strokes")
        print("frame  parts  pixels  missed")
        for a in acc:
            print(f"{a['frame']:5d}  {a['parts']:2d}/{a['of']:<2d}  {a['pixels']:.4f}  "
                  f"{', '.join(a['missed']) or '-'}")
        print("per frame (s): render {:.3f}  colorize {:.3f}  trace {:.3f}  write-back {:.3f}"
              .format(sec["render"] / n, sec["colorize"] / n, sec["trace"] / n,
                      sec["fills"] / n))
        print("(render includes the reference frame's two renders; colorize excludes the "
              "model load)")

        gparts = grid_parts()
        g = run(gparts, 3, (640, 480), work / "grid", engine, truth=False)
        gn = g["rendered"]
        print(f"\ngrid: {len(gparts)} cells at 640x480, {g['fills']['strokes'] / gn:.0f} fill "
              f"strokes/frame: write-back {g['seconds']['fills'] / gn:.3f} s/frame, "
              f"trace {g['seconds']['trace'] / gn:.3f} s/frame, "
              f"colorize {g['seconds']['colorize'] / gn:.3f} s/frame")
        figures = {
            "bpy": bpy.app.version_string, "gp": "v3" if cg.is_v3() else "legacy",
            "size": list(size), "frames": args.frames, "accuracy": acc,
            "per_frame_seconds": {k: v / n for k, v in sec.items()},
            "grid": {"cells": len(gparts), "strokes_per_frame": g["fills"]["strokes"] / gn,
                     "per_frame_seconds": {k: v / gn for k, v in g["seconds"].items()}},
            "work": str(work)}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n")
        all_parts = all(a["parts"] == a["of"] for a in acc)
        print(f"\ntarget: every part colored in every frame: {'yes' if all_parts else 'NO'}; "
              f"write-back < 1 s/frame at 200+ segments: "
              f"{'yes' if g['seconds']['fills'] / gn < 1.0 else 'NO'}")
        print(f"files: {work}")
    finally:
        engine.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
