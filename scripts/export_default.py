#!/usr/bin/env python
"""Export a training run as the shipped default model, with its model card.

    .venv/bin/python scripts/export_default.py runs/default_v2 [--quality bench.json]

Writes dacon_engine/weights/default.pt (weights + architecture config + card fields) and
dacon_engine/weights/default.md (the model card: data, command, seed, steps, time,
held-out validation accuracy, and quality tables when given).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dacon_engine.fileio.files import atomic_write_text
from dacon_engine.model.network import LINE_WIDEN_MAX
from dacon_engine.training.loop import export_model

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "dacon_engine" / "weights"


def stage_of(cfg: dict, steps: int, hours: float) -> dict:
    """One training stage as the card records it."""
    return {"run": Path(cfg["run_dir"]).name, "steps": int(steps), "seed": cfg["seed"],
            "keyframe_fraction": cfg["keyframe_fraction"],
            "warp_fraction": cfg.get("warp_fraction", 0.0),
            "degrade_fraction": cfg.get("degrade_fraction", 0.0),
            "new_shape_fraction": cfg.get("new_shape_fraction", 0.0),
            "batch": cfg.get("batch"), "lr": cfg.get("lr"), "device": cfg.get("device", "cpu"),
            "amp": "auto" if cfg.get("amp") is None else cfg["amp"],
            "hours": round(hours, 2)}


def prior_stages(init: str | None) -> list[dict]:
    """The stages behind a warm start's weights (read before they are overwritten)."""
    if not init:
        return []
    path = Path(init) if Path(init).is_file() else ROOT / init
    if not path.is_file():
        return []
    extra = torch.load(path, map_location="cpu", weights_only=True).get("extra", {})
    if "stages" in extra:
        return list(extra["stages"])
    if "train_config" in extra:
        return [stage_of(extra["train_config"], extra.get("trained_steps", 0),
                         extra.get("train_hours_logged", 0.0))]
    return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--quality", type=Path, default=None, help="bench_quality.py --json output")
    ap.add_argument("--command", default=None, help="the training command, for the card")
    ap.add_argument("--unet-input", type=int, default=None,
                    help="U-Net input size at inference (px, a multiple of 16) when it differs "
                         "from training's")
    ap.add_argument("--small-frame-input", type=int, default=None,
                    help="with --unet-input: the input of frames smaller than it (e.g. the "
                         "training input)")
    ap.add_argument("--line-widen", type=float, default=None,
                    help="widen lines by about this x the downscale before the network "
                         "(DaconConfig.line_widen; the shipped model: 0.5)")
    args = ap.parse_args()
    if args.small_frame_input and not args.unet_input:
        ap.error("--small-frame-input needs --unet-input")
    if args.line_widen is not None and not 0 <= args.line_widen <= LINE_WIDEN_MAX:
        ap.error(f"--line-widen must be from 0 to {LINE_WIDEN_MAX:g}, got {args.line_widen}")
    infer = {k: v for k, v in (("unet_input", args.unet_input),
                               ("small_frame_input", args.small_frame_input),
                               ("line_widen", args.line_widen)) if v}

    state = torch.load(args.run / "last.pt", map_location="cpu", weights_only=True)
    cfg = json.loads((args.run / "config.json").read_text())
    log = [json.loads(x) for x in (args.run / "train.jsonl").read_text().splitlines() if x]
    times = [r["time"] for r in log if "time" in r]
    hours = (times[-1] - times[0]) / 3600 if len(times) > 1 else 0.0
    vals = [r for r in log if "val_acc_consecutive" in r]
    last_val = vals[-1] if vals else {}
    n_params = sum(v.numel() for v in state["state_dict"].values())
    this = stage_of(cfg, state["step"], hours)
    # a re-export of the same run reads its own earlier export as "init": skip that stage
    stages = [st for st in prior_stages(cfg.get("init")) if st["run"] != this["run"]] + [this]
    total_steps = sum(st["steps"] for st in stages)
    card = {"name": "default", "trained_steps": total_steps, "train_config": cfg,
            "train_hours_logged": round(sum(st["hours"] for st in stages), 2), "params": n_params,
            "stages": stages, "val": {k: v for k, v in last_val.items() if k.startswith("val_")}}
    export_model(args.run / "last.pt", WEIGHTS / "default.pt", card, config=infer)

    command = args.command or (
        f"dacon train --run {args.run} --steps <N> --batch {cfg['batch']} "
        f"--size {' '.join(map(str, cfg['size'] if isinstance(cfg['size'], list) else [cfg['size']]))} "
        f"--unet-base {cfg['model']['unet_base']} --unet-input {cfg['model']['unet_input']} "
        f"{'--coord-input ' if cfg['model'].get('coord_input') else ''}"
        f"{'--antialias ' if cfg['model'].get('antialias') else ''}"
        f"--keyframe-fraction {cfg['keyframe_fraction']} "
        + (f"--warp-fraction {cfg['warp_fraction']} " if cfg.get("warp_fraction") else "")
        + (f"--degrade-fraction {cfg['degrade_fraction']} " if cfg.get("degrade_fraction") else "")
        + (f"--new-shape-fraction {cfg['new_shape_fraction']} "
           if cfg.get("new_shape_fraction") else "")
        + f"--lr {cfg['lr']} --seed {cfg['seed']} --threads {cfg['threads']}"
        + (f" --device {cfg['device']}" if cfg.get("device", "cpu") != "cpu" else "")
        + (f" --data-workers {cfg['data_workers']}" if cfg.get("data_workers") else "")
        + (f" --max-minutes {cfg['max_minutes']}" if cfg.get("max_minutes") else "")
        + (f" --init {cfg['init']}" if cfg.get("init") else ""))
    lines = [
        "# Model card: `default`",
        "",
        "The model `dacon colorize` uses when `--model` is not given (`default.pt` beside this",
        "card). It needs no download and no GPU.",
        "",
        "## What it is and how it was made",
        "",
        "| field | value |",
        "|---|---|",
        f"| architecture | DACoN U-Net-only (paper's w/o-DINOv2 ablation), base width "
        f"{cfg['model']['unet_base']}, input {cfg['model']['unet_input']} px in training"
        + (f", {args.unet_input} px at inference" if args.unet_input else "")
        + (f" ({infer['small_frame_input']} px for frames under {args.unet_input} px)"
           if "small_frame_input" in infer else "") + ", "
        f"box-aligned coordinate input: {bool(cfg['model'].get('coord_input'))}, "
        f"antialiased downsampling: {bool(cfg['model'].get('antialias'))}, "
        + (f"lines widened by {infer['line_widen']} x the downscale at inference, "
           if "line_widen" in infer else "") + "128-d segment features |",
        f"| parameters | {n_params:,} |",
        ("| training data | only procedurally generated anime line art from `dacon_engine.synth` "
         "(no third-party images), sizes "
        f"{cfg['size']} px, keyframe fraction {cfg['keyframe_fraction']}, warp fraction "
        f"{cfg.get('warp_fraction', 0.0)} (targets warped from their own source: rotation, "
        "scale, mirror, elastic bending), degrade fraction "
        f"{cfg.get('degrade_fraction', 0.0)} (line art exported anti-aliased, resampled, JPEG "
        "or scanned), new-shape fraction "
        f"{cfg.get('new_shape_fraction', 0.0)} (closed shapes that appear inside regions) |"),
        "| loss | cross-entropy over segment similarities, temperature 0.1 (no DINO term: no backbone) |",
        "| optimizer | Adam; " + "; ".join(
            f"{st['run']}: lr {st['lr']}, {st['batch']} pairs per step" if "lr" in st
            else f"{st['run']}: not recorded" for st in stages) + " |",
        f"| steps | {total_steps} in {len(stages)} stage(s), each warm-started from the one before: "
        + "; ".join(f"{st['run']}: {st['steps']} steps, seed {st['seed']}, keyframe fraction "
                    f"{st['keyframe_fraction']}, warp fraction {st.get('warp_fraction', 0.0)}, "
                    f"degrade fraction {st.get('degrade_fraction', 0.0)}, new-shape fraction "
                    f"{st.get('new_shape_fraction', 0.0)}, on {st.get('device', 'cpu')}, bf16 autocast "
                    f"{st['amp']}, {st['hours']:.2f} h"
                    for st in stages) + " |",
        (f"| wall time logged | {card['train_hours_logged']:.2f} h (cpu: the 2-core development "
         "machine; cuda: one H100 with 16 CPU cores) |"),
        "| held-out validation (16 pairs each) | "
        + ", ".join(f"{k[8:]}: {100 * v:.1f} %" for k, v in card["val"].items()) + " |",
        "",
        "Command (resumable; the run folder keeps `last.pt`):",
        "",
        "```",
        command,
        "scripts/export_default.py " + str(args.run)
        + (f" --unet-input {args.unet_input}" if args.unet_input else "")
        + (f" --small-frame-input {infer['small_frame_input']}"
           if "small_frame_input" in infer else "")
        + (f" --line-widen {infer['line_widen']}" if "line_widen" in infer else ""),
        "```",
        "",
        "To continue training from the shipped weights (the run folder is not in the",
        "repository; the optimizer starts afresh): add `--init dacon_engine/weights/default.pt`",
        "to the command above with a new `--run` folder.",
        "",
        "## Limits",
        "",
        "Trained on synthetic characters only; no DINOv2 semantics, so large pose changes and",
        "parts that look alike are where it errs: check low-confidence segments first.",
    ]
    if args.quality and args.quality.is_file():
        from dacon_engine.evaluation.quality import format_rows

        lines += ["", "## How it scores (scripts/bench_quality.py)", "", "```",
                  format_rows(json.loads(args.quality.read_text())), "```"]
    atomic_write_text(WEIGHTS / "default.md", "\n".join(lines) + "\n")
    print(f"wrote {WEIGHTS / 'default.pt'} and {WEIGHTS / 'default.md'} (step {state['step']})")


if __name__ == "__main__":
    main()
