"""Held-out quality benchmarks: the five BasicPBC metrics for any model, side by side.

Suites (all deterministic; synthetic seeds start at 2e9, far from any training seed):
- ``keyframe-1ref`` / ``keyframe-3ref``: keyframe clips (large pose, scale, view changes);
  references = the first 1 or 3 colored frames, targets = frames 3.. (the same targets
  for both rows, so they compare).
- ``sheet``: the same targets colored from the clip's multi-view design sheet.
- ``consecutive``: consecutive clips; frame t is colored from the ground truth of t-1
  (the BasicPBC/DACoN protocol, not a chain of predictions).
- ``new-shape``: the same consecutive pairs with two new closed shapes drawn inside
  regions of each target (``newshapes.insert_shapes``: half painted like the region
  around them, half in a color no reference has), the way a detail or an object appears
  between two drawings; the regions around them must keep their colors.
- ``warp-mild`` / ``warp-large``: a real frame (e.g. PaintBucket 0242) as the single
  reference, keyframe mode, its warps as targets: mild = rotation up to 4 deg, scale and
  shift a few %, mild elastic bending; large = rotation up to 20 deg, scale up to 25 %,
  shift up to 10 %, mirror flips, strong elastic bending (``WARP_REGIMES``).
  ``warp-real`` (the first real-art suite, one in-between regime) is kept for comparison.
- ``closeup`` (real frame) / ``closeup-synth``: the camera moves in 1.8-2.6x on part of a
  mildly redrawn drawing, lines redrawn at the drawing's pen width (``closeup``); the
  full drawing (the real frame itself; a synthetic clip's first frame) is the one
  reference: a full-body sheet coloring a bust shot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..colorizer import Colorizer
from ..frames import SegmentedFrame
from ..segmentation.references import segment_colors
from ..segmentation.segments import segment_line_art
from ..synth.warps import CLOSEUP_ZOOM, WARP_REGIMES, closeup, warp_line_art, warp_maps
from .metrics import frame_metrics, mean_metrics

__all__ = ["CLOSEUP_ZOOM", "WARP_REGIMES", "Case", "closeup", "warp_line_art", "warp_maps"]

HELD_OUT_SEED = 2_000_000_000


@dataclass
class Case:
    """One scoring unit: references (line, gt) and targets (line, gt)."""

    references: list[tuple[np.ndarray, np.ndarray]]
    targets: list[tuple[np.ndarray, np.ndarray]]


def synthetic_suites(n_clips: int = 8, size: int = 512, n_frames: int = 6,
                     seed: int = HELD_OUT_SEED) -> dict[str, list[Case]]:
    """The synthetic suites described in the module docstring."""
    from .. import synth
    from ..synth.newshapes import insert_shapes

    out: dict[str, list[Case]] = {"keyframe-1ref": [], "keyframe-3ref": [], "sheet": [],
                                  "consecutive": [], "new-shape": []}
    for c in range(n_clips):
        clip = synth.make_clip(seed + 2 * c, n_frames=max(n_frames, 4), size=size,
                               regime="keyframe")
        frames = [(f.line, f.gt) for f in clip.frames]
        targets = frames[3:]
        out["keyframe-1ref"].append(Case(frames[:1], targets))
        out["keyframe-3ref"].append(Case(frames[:3], targets))
        out["sheet"].append(Case([(clip.reference.line, clip.reference.gt)], targets))
        clip = synth.make_clip(seed + 2 * c + 1, n_frames=n_frames, size=size,
                               regime="consecutive")
        frames = [(f.line, f.gt) for f in clip.frames]
        out["consecutive"].extend(Case([frames[t - 1]], [frames[t]]) for t in range(1, len(frames)))
        rng = np.random.default_rng(seed + 2 * c + 1)
        out["new-shape"].extend(Case([frames[t - 1]], [insert_shapes(*frames[t], rng, n=2)[:2]])
                                for t in range(1, len(frames)))
    return out


def warp_suite(line: np.ndarray, gt: np.ndarray, seed: int = 0, n: int = 6,
               regime: str = "real") -> list[Case]:
    """Warped copies of one real frame as targets, the frame itself as the reference.

    regime: "mild" / "large" (see ``WARP_REGIMES``: affine + mirror + elastic bending), or
    "real" (the first suite: rotation up to 12 deg, scale 0.8..1.15, shear, shift).
    The line art is warped as ink coverage (bilinear) and every pixel with any coverage
    becomes an opaque black line, so thin lines stay closed under rotation and
    down-scaling (nearest-neighbour sampling would break them and merge regions); the
    ground truth is warped nearest-neighbour, its colors read per target segment.
    Deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    h, w = line.shape[:2]
    targets = []
    for _ in range(n):
        if regime == "real":
            ang = rng.uniform(-12, 12)
            scale = rng.uniform(0.8, 1.15)
            m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, scale)
            m[0, 1] += rng.uniform(-0.08, 0.08)  # shear
            m[:, 2] += rng.uniform(-0.06, 0.06, 2) * (w, h)
            targets.append(warp_line_art(line, gt, affine=m))
        else:
            targets.append(warp_line_art(line, gt, maps=warp_maps((h, w), rng,
                                                                  WARP_REGIMES[regime])))
    return [Case([(line, gt)], targets)]


def closeup_suite(line: np.ndarray, gt: np.ndarray, seed: int = 0, n: int = 6) -> list[Case]:
    """Close-ups of one real frame as targets (``closeup``), the frame itself as the one
    reference, keyframe mode. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    return [Case([(line, gt)], [closeup(line, gt, rng) for _ in range(n)])]


def synthetic_closeups(n_clips: int = 8, size: int = 512, n_frames: int = 6,
                       seed: int = HELD_OUT_SEED) -> list[Case]:
    """Close-ups of synthetic characters: the clips of the keyframe suites, frames 3..
    seen from 1.8-2.6x closer, colored from the first frame (full figure) alone."""
    from .. import synth

    cases = []
    for c in range(n_clips):
        clip = synth.make_clip(seed + 2 * c, n_frames=max(n_frames, 4), size=size,
                               regime="keyframe")
        rng = np.random.default_rng(seed + 2 * c)
        first = clip.frames[0]
        cases.append(Case([(first.line, first.gt)],
                          [closeup(f.line, f.gt, rng) for f in clip.frames[3:]]))
    return cases


REAL_SEEDS = {"warp-mild": ("mild", 1), "warp-large": ("large", 2), "closeup": ("closeup", 3)}
"""The real-frame suites: regime and seed of each."""


def benchmark_suites(real: Path | None, clips: int = 8, size: int = 512, frames: int = 6,
                     warps: int = 8) -> dict[str, list[Case]]:
    """Every quality suite by name: the real-frame ones when ``real`` holds ``line.png`` and
    ``gt.png`` (``warps`` targets each), then the synthetic ones and ``closeup-synth``."""
    from ..fileio.images import read_image

    out: dict[str, list[Case]] = {}
    if real is not None and (real / "line.png").is_file():
        line, gt = read_image(real / "line.png"), read_image(real / "gt.png")
        for name, (regime, seed) in REAL_SEEDS.items():
            out[name] = closeup_suite(line, gt, seed=seed, n=warps) if regime == "closeup" \
                else warp_suite(line, gt, seed=seed, n=warps, regime=regime)
    out.update(synthetic_suites(clips, size, frames))
    out["closeup-synth"] = synthetic_closeups(clips, size, frames)
    return out


def score_cases(colorizer: Callable[[], Colorizer], cases: Sequence[Case]) -> dict:
    """Mean metrics over all target frames of ``cases`` (macro over frames)."""
    rows = []
    for case in cases:
        c = colorizer()
        for line, gt in case.references:
            c.add_reference(gt, line)
        frames = []
        for line, gt in case.targets:
            labels, n = segment_line_art(line)
            frames.append((SegmentedFrame(line, labels, n), segment_colors(labels, n, gt)))
        for res, (frame, truth) in zip(c.colorize([f for f, _ in frames]), frames):
            rows.append(frame_metrics(frame.labels, truth, res.assignment.colors))
    return mean_metrics(rows)


def format_rows(rows: dict[str, dict[str, dict]]) -> str:
    """Table: one line per (suite, model) with the five metrics in percent."""
    keys = ("acc", "acc_thres", "pix_acc", "pix_f_acc", "pix_b_miou")
    head = f"{'suite':<15} {'model':<26} " + " ".join(f"{k:>10}" for k in keys) + "  frames"
    lines = [head, "-" * len(head)]
    for suite, models in rows.items():
        for model, m in models.items():
            vals = " ".join("         -" if m.get(k) is None else f"{100 * m[k]:>10.2f}"
                            for k in keys)
            lines.append(f"{suite:<15} {model:<26} {vals}  {m.get('n_frames', 0):>6}")
    return "\n".join(lines)
