"""Training pairs: a source frame (colored) and a target frame with known colors.

Two sources feed the same loop:
- :class:`SynthPairs`: procedurally generated pairs (``dacon_engine.synth``), on the fly.
- :class:`PaintBucketPairs`: the PaintBucket-Character v2 training layout
  ``<root>/<character>/{line,gt,seg,json_color}/NNNN.*`` (optionally ``ref/`` design
  sheets); source frame = i + s*d, d in {0, 1, 2}, s in {-1, +1}, wrapping inside the
  character, as in the paper.
Segment classes are colors: segments of equal RGBA correspond.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..errors import DaconError
from ..fileio.files import list_images
from ..matching.bank import color_ids


@dataclass
class TrainFrame:
    """line: HxWx4 uint8; labels: HxW int32 (0 = line); colors: (n, 4) uint8 per label."""

    line: np.ndarray
    labels: np.ndarray
    colors: np.ndarray

    @property
    def n_segments(self) -> int:
        return int(self.colors.shape[0])

    def color_ids(self) -> np.ndarray:
        return color_ids(self.colors)


@dataclass
class TrainPair:
    source: TrainFrame
    target: TrainFrame


def frame_from_images(line: np.ndarray, gt: np.ndarray) -> TrainFrame:
    """Segment ``line`` and color each segment with the most frequent RGBA of ``gt``."""
    from ..segmentation.references import segment_colors
    from ..segmentation.segments import segment_line_art

    labels, n = segment_line_art(line)
    return TrainFrame(line, labels, segment_colors(labels, n, gt))


def synth_pair(seed: int, size: int, regime: str) -> TrainPair:
    """One generated pair (``synth.make_pair``), segmented."""
    from .. import synth

    s, t = synth.make_pair(seed, size, regime)
    return TrainPair(frame_from_images(s.line, s.gt), frame_from_images(t.line, t.gt))


class SynthPairs:
    """Endless generated pairs; ``seed`` fixes the whole stream; mixes the regimes.

    Each pair is drawn at a size picked from ``sizes`` (px, square), so a model that
    resizes its input sees lines at the widths it will meet at inference.
    warp_fraction: share of pairs whose target is a warp of the source frame itself
    (``synth.warps.WARP_REGIMES`` mild or large, half each: rotation, scale, mirror, elastic
    bending), the way a redrawn frame departs from its reference; the rest are keyframe
    (``keyframe_fraction`` of them) or consecutive pairs.
    degrade_fraction: chance that a target's line art is exported the way real tools do
    (anti-aliased, thickened, resampled, JPEG, scanned: ``linedegrade.random_export``),
    and half that chance for a source; segments and colors still come from the same
    ground truth.
    new_shape_fraction: share of pairs where 1-3 new closed shapes appear inside regions
    (``newshapes.insert_shapes``): in the target two times in three (a detail or object
    that appears), else in the source (one that disappears); before any degrading.
    closeup_fraction: share of pairs that become close-ups (``synth.warps.closeup``: the
    camera moves in ``CLOSEUP_TRAIN_ZOOM`` times on part of a mildly redrawn drawing, cut
    by the border): the target three times in four (a full-body sheet coloring a bust
    shot), else the source (a close-up reference for a wider shot).
    """

    def __init__(self, seed: int, sizes: int | tuple[int, ...] = 384,
                 keyframe_fraction: float = 0.5, warp_fraction: float = 0.0,
                 degrade_fraction: float = 0.0, new_shape_fraction: float = 0.0,
                 closeup_fraction: float = 0.0):
        self.seed, self.keyframe_fraction = seed, keyframe_fraction
        self.warp_fraction, self.degrade_fraction = warp_fraction, degrade_fraction
        self.new_shape_fraction = new_shape_fraction
        self.closeup_fraction = closeup_fraction
        self.sizes = (sizes,) if isinstance(sizes, int) else tuple(sizes)

    def __iter__(self) -> Iterator[TrainPair]:
        from .. import synth
        from ..synth.linedegrade import random_export
        from ..synth.newshapes import insert_shapes
        from ..synth.warps import (
            CLOSEUP_TRAIN_ZOOM,
            WARP_REGIMES,
            closeup,
            warp_line_art,
            warp_maps,
        )

        rng = np.random.default_rng(self.seed)
        while True:
            size = self.sizes[int(rng.integers(len(self.sizes)))]
            if rng.random() < self.warp_fraction:
                src, _ = synth.make_pair(int(rng.integers(2**31)), size, "consecutive")
                regime = WARP_REGIMES["mild" if rng.random() < 0.5 else "large"]
                t_line, t_gt = warp_line_art(src.line, src.gt,
                                             maps=warp_maps((size, size), rng, regime))
                pair = (src.line, src.gt), (t_line, t_gt)
            else:
                regime_name = "keyframe" if rng.random() < self.keyframe_fraction \
                    else "consecutive"
                a, b = synth.make_pair(int(rng.integers(2**31)), size, regime_name)
                pair = (a.line, a.gt), (b.line, b.gt)
            if self.new_shape_fraction and rng.random() < self.new_shape_fraction:
                k = 1 if rng.random() < 2 / 3 else 0
                line, gt, _ = insert_shapes(*pair[k], rng, n=int(rng.integers(1, 4)))
                pair = (pair[0], (line, gt)) if k else ((line, gt), pair[1])
            if self.closeup_fraction and rng.random() < self.closeup_fraction:
                k = 1 if rng.random() < 0.75 else 0
                near = closeup(*pair[k], rng, zoom=CLOSEUP_TRAIN_ZOOM)
                pair = (pair[0], near) if k else (near, pair[1])
            frames = []
            for (line, gt), p in zip(pair, (self.degrade_fraction / 2, self.degrade_fraction)):
                if rng.random() < p:
                    line = random_export(line, rng)
                frames.append(frame_from_images(line, gt))
            yield TrainPair(frames[0], frames[1])


def _identity(x):
    return x


def _quiet_worker(_: int) -> None:
    """One thread per data worker: the workers, not their libraries, share the cores."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class _SplitPairs(IterableDataset):
    """A pair stream split over DataLoader workers: worker i runs a copy seeded
    ``seed * 1_000_003 + i + 1``."""

    def __init__(self, pairs: SynthPairs | PaintBucketPairs):
        self.pairs = pairs

    def __iter__(self) -> Iterator[TrainPair]:
        info = get_worker_info()
        mine = copy.copy(self.pairs)
        mine.seed = self.pairs.seed * 1_000_003 + (info.id if info else 0) + 1
        return iter(mine)


def parallel_pairs(pairs: SynthPairs | PaintBucketPairs, workers: int) -> Iterator[TrainPair]:
    """``pairs`` made by ``workers`` processes (torch DataLoader), in a fixed order: the
    loader takes one pair from each worker in turn, so a seed and a worker count fix the
    whole stream. workers 0: the stream itself, made in this process.

    Workers are spawned, not forked: a child forked after OpenCV's or torch's thread pools
    ran in this process can deadlock in them (seen: ``cv2.setNumThreads`` never returned)."""
    if workers <= 0:
        return iter(pairs)
    return iter(DataLoader(_SplitPairs(pairs), batch_size=None, num_workers=workers,
                           collate_fn=_identity, worker_init_fn=_quiet_worker,
                           prefetch_factor=4, multiprocessing_context="spawn"))


def synth_pairs(jobs: list[tuple[int, int, str]], workers: int) -> list[TrainPair]:
    """:func:`synth_pair` of each (seed, size, regime) job, in order, by ``workers``
    spawned processes (0: in this process); the same pairs either way."""
    if workers <= 0:
        return [synth_pair(*job) for job in jobs]
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)),
                                                   initializer=_quiet_worker,
                                                   initargs=(0,)) as pool:
        return pool.starmap(synth_pair, jobs)


class PaintBucketPairs:
    """Pairs from the PaintBucket-Character v2 training layout (see module docstring)."""

    def __init__(self, root: str | Path, seed: int = 0):
        self.root = Path(root)
        chars = [p for p in sorted(self.root.iterdir()) if (p / "line").is_dir()] \
            if self.root.is_dir() else []
        if not chars:
            raise DaconError(self.root, "no character folders with line/ found "
                             "(expected <root>/<character>/{line,gt,seg,json_color}/)")
        self.frames = {c: list_images(c / "line") for c in chars}
        self.seed = seed

    def load(self, char: Path, line_path: Path) -> TrainFrame:
        from ..fileio.images import read_image
        from ..fileio.labelmap import read_label_map

        stem = line_path.stem
        line = read_image(line_path)
        seg = char / "seg" / f"{stem}.png"
        colors_json = char / "json_color" / f"{stem}.json"
        if seg.is_file() and colors_json.is_file():
            labels = read_label_map(seg)
            table = json.loads(colors_json.read_text())
            n = int(labels.max())
            colors = np.zeros((n, 4), np.uint8)
            keys = np.array([int(k) for k in table], np.int64)
            vals = np.array(list(table.values()), np.uint8).reshape(-1, 4)
            ok = (keys >= 1) & (keys <= n)
            colors[keys[ok] - 1] = vals[ok]
            return TrainFrame(line, labels, colors)
        return frame_from_images(line, read_image(char / "gt" / line_path.name))

    def __iter__(self) -> Iterator[TrainPair]:
        rng = np.random.default_rng(self.seed)
        chars = list(self.frames)
        while True:
            char = chars[int(rng.integers(len(chars)))]
            frames = self.frames[char]
            i = int(rng.integers(len(frames)))
            j = (i + int(rng.choice([-1, 1])) * int(rng.integers(3))) % len(frames)
            yield TrainPair(self.load(char, frames[j]), self.load(char, frames[i]))
