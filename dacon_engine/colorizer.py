"""The one entry point: build a colorizer, add references, colorize frames.

    from dacon_engine.colorizer import Colorizer
    c = Colorizer(model="default")              # or "baseline", a name from `dacon models`, a path
    c.add_reference("ref/gt/0000.png", line="ref/line/0000.png")
    for result in c.colorize(["line/0001.png", "line/0002.png"], mode="keyframe"):
        rgba = result.image()                   # HxWx4 uint8, lines copied from the input
        result.assignment.confidence           # (n_segments,) in [0, 1]

The CLI, the engine service and the tests all go through this class.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DaconError
from .files import frame_number
from .frames import Reference, SegmentedFrame
from .matching import Assignment, Bank, SegmentFeaturizer, assign

MODES = ("keyframe", "consecutive", "nearest")

Target = str | os.PathLike | np.ndarray | SegmentedFrame


@dataclass
class FrameResult:
    """A colorized target frame."""

    frame: SegmentedFrame
    assignment: Assignment
    name: str
    index: int                 # position in the targets given to ``colorize``
    features: torch.Tensor     # (n_segments, D), reused when this frame joins a bank

    def image(self) -> np.ndarray:
        """HxWx4 uint8 RGBA: segments filled, line pixels copied unchanged from the input."""
        from .outputs import render_colors

        return render_colors(self.frame, self.assignment.colors)


def build_featurizer(model: str | os.PathLike | SegmentFeaturizer = "default",
                     device: str = "auto", dinov2_weights: str | None = None) -> SegmentFeaturizer:
    """A featurizer from a model name or checkpoint path ("baseline" needs no weights)."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    if os.fspath(model) == "baseline":
        from .baseline import GeometricBaseline

        return GeometricBaseline()
    from .model.registry import build_featurizer as build_model

    return build_model(os.fspath(model), device=device, dinov2_weights=dinov2_weights)


class Colorizer:
    """Colorize line-art frames from any number of colored references.

    model: a name ("default", "baseline", see ``dacon models``), a checkpoint path, or a
    ready ``SegmentFeaturizer``. gap_radius: gap closing (px) for targets and references.
    """

    def __init__(self, model: str | os.PathLike | SegmentFeaturizer = "default", *,
                 device: str = "auto", gap_radius: int = 0, dinov2_weights: str | None = None):
        self.featurizer = build_featurizer(model, device=device, dinov2_weights=dinov2_weights)
        self.gap_radius = int(gap_radius)
        self.references: list[Reference] = []
        self._ref_features: list[torch.Tensor] = []

    @property
    def model_name(self) -> str:
        return self.featurizer.name

    # -- references -----------------------------------------------------------------
    def add_reference(self, color: str | os.PathLike | np.ndarray | Reference,
                      line: str | os.PathLike | np.ndarray | None = None,
                      name: str | None = None) -> Reference:
        """Add a colored frame (and optionally its line art) to the reference bank."""
        from .references import load_reference, reference_from_arrays

        if isinstance(color, Reference):
            ref = color
        elif isinstance(color, np.ndarray):
            ref = reference_from_arrays(color, line, gap_radius=self.gap_radius,
                                        name=name or f"reference{len(self.references)}")
        else:
            ref = load_reference(color, line, gap_radius=self.gap_radius, name=name)
        self.references.append(ref)
        self._ref_features.append(self.featurizer.segment_features([ref.frame])[0])
        return ref

    def reference_names(self) -> list[str]:
        return [r.name for r in self.references]

    def _bank(self) -> Bank:
        if not self.references:
            raise DaconError(None, "no references: add at least one colored reference frame")
        return Bank.build(self.references, self._ref_features)

    # -- targets --------------------------------------------------------------------
    def load_target(self, target: Target, name: str | None = None) -> SegmentedFrame:
        from .segments import segment_frame

        if isinstance(target, SegmentedFrame):
            return target
        return segment_frame(target, gap_radius=self.gap_radius)

    def colorize(self, targets: Sequence[Target], mode: str = "keyframe", *,
                 batch_size: int = 4) -> Iterator[FrameResult]:
        """Colorize ``targets``, yielding one FrameResult per frame as soon as it is done.

        keyframe:    every frame is matched against the references only.
        consecutive: frames in the given order; each frame's result joins the bank for the
                     next one (a chain: references + the previous colored frame).
        nearest:     for clips whose colored frame is in the middle or at the end: frames are
                     colored outward from the nearest reference frame number, each using the
                     neighbour one step closer to that reference (references + that frame).
        Results come in processing order (frame order except in ``nearest`` mode).
        """
        if mode not in MODES:
            raise DaconError(None, f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
        targets = list(targets)
        base = self._bank()
        order = processing_order(targets, [r.name for r in self.references], mode)
        done: dict[int, Bank] = {}
        n_refs = len(self.references)
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start:start + max(1, batch_size)]
            frames = [self.load_target(targets[i]) for i, _ in chunk]
            feats = self.featurizer.segment_features(frames)
            for (i, neighbour), frame, feat in zip(chunk, frames, feats):
                bank = base if neighbour is None else base.extend(done[neighbour])
                a = assign(self.featurizer.similarity(feat, bank.features), bank)
                if mode != "keyframe":
                    done[i] = Bank(feat, a.colors,
                                   np.full(frame.n_segments, n_refs + i, np.int64),
                                   np.arange(1, frame.n_segments + 1, dtype=np.int64))
                yield FrameResult(frame, a, target_name(targets[i], i), i, feat)

    def source_name(self, ref_index: int, targets: Sequence[Target]) -> str:
        """Name of a bank source: a reference, or (index >= n refs) a colored target frame."""
        n = len(self.references)
        if ref_index < n:
            return self.references[ref_index].name
        return target_name(targets[ref_index - n], ref_index - n)


def target_name(target: Target, index: int) -> str:
    """The stem used for a target's outputs."""
    if isinstance(target, SegmentedFrame) and target.path is not None:
        return Path(target.path).stem
    if isinstance(target, (str, os.PathLike)):
        return Path(target).stem
    return f"frame{index:04d}"


def processing_order(targets: Sequence[Target], reference_names: Iterable[str],
                     mode: str) -> list[tuple[int, int | None]]:
    """(target index, neighbour target index whose colors join the bank, or None)."""
    n = len(targets)
    if mode == "keyframe":
        return [(i, None) for i in range(n)]
    if mode == "consecutive":
        return [(i, i - 1 if i else None) for i in range(n)]
    # nearest: propagate outward from the reference frame numbers
    tnum = [frame_number(target_name(t, i)) for i, t in enumerate(targets)]
    rnum = [frame_number(r) for r in reference_names]
    rnum = [r for r in rnum if r is not None]
    if not rnum or any(t is None for t in tnum):
        return processing_order(targets, [], "consecutive")
    refs = np.array(rnum)
    pos = sorted(range(n), key=lambda i: tnum[i])  # frame order
    dist = [int(np.abs(refs - tnum[i]).min()) for i in range(n)]
    anchor = [int(refs[np.abs(refs - tnum[i]).argmin()]) for i in range(n)]
    rank = {i: k for k, i in enumerate(pos)}
    order = []
    for i in sorted(range(n), key=lambda i: (dist[i], tnum[i])):
        step = -1 if tnum[i] > anchor[i] else 1  # towards the reference
        k = rank[i] + step
        neighbour = None
        if 0 <= k < n and dist[pos[k]] < dist[i] and anchor[pos[k]] == anchor[i]:
            neighbour = pos[k]
        order.append((i, neighbour))
    return order
