"""The geometric baseline matcher: the floor every learned model must beat.

No learning and no appearance: each segment is described by where it sits inside
the drawing and how big and elongated it is, after aligning the drawings' bounding boxes
(the extent of the line pixels). Features per segment (all from pixel moments, so
vectorized with ``np.bincount``):

    cx, cy   centroid, in [0, 1] of the drawing's bounding box
    sx, sy   standard deviation of x and y, in units of the box size
    la       log(area / box area)

Similarity is ``exp(-d^2 / 2)`` with d the weighted Euclidean distance of those
features, so it lies in [0, 1] like every model's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..frames import SegmentedFrame

#: Feature weights: position matters most, then extent, then area.
WEIGHTS = torch.tensor([10.0, 10.0, 6.0, 6.0, 1.0])


def drawing_box(labels: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) extent of the line pixels (label 0); the whole frame if none."""
    line = labels == 0
    rows, cols = np.flatnonzero(line.any(1)), np.flatnonzero(line.any(0))
    if rows.size == 0:
        return 0, 0, labels.shape[0], labels.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def moment_features(frame: SegmentedFrame) -> np.ndarray:
    """(n_segments, 5) float32 geometric features of each segment."""
    labels = frame.labels
    h, w = labels.shape
    y0, x0, y1, x1 = drawing_box(labels)
    bw, bh = max(x1 - x0, 1), max(y1 - y0, 1)
    flat = labels.ravel()
    n = frame.n_segments + 1
    ys, xs = np.divmod(np.arange(flat.size, dtype=np.int64), w)
    xn = (xs - x0) / bw
    yn = (ys - y0) / bh
    area = np.bincount(flat, minlength=n).astype(np.float64)
    safe = np.maximum(area, 1.0)
    mx = np.bincount(flat, weights=xn, minlength=n) / safe
    my = np.bincount(flat, weights=yn, minlength=n) / safe
    vx = np.bincount(flat, weights=xn * xn, minlength=n) / safe - mx * mx
    vy = np.bincount(flat, weights=yn * yn, minlength=n) / safe - my * my
    la = np.log(safe / (bw * bh))
    feats = np.stack([mx, my, np.sqrt(np.maximum(vx, 0)), np.sqrt(np.maximum(vy, 0)), la], 1)
    return feats[1:].astype(np.float32)


class GeometricBaseline:
    """``SegmentFeaturizer`` using only segment geometry (see module docstring)."""

    name = "baseline"

    def segment_features(self, frames: Sequence[SegmentedFrame]) -> list[torch.Tensor]:
        return [torch.from_numpy(moment_features(f)) for f in frames]

    def similarity(self, target: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        w = WEIGHTS.to(target.device)
        d2 = torch.cdist(target.float() * w, bank.float() * w).square()
        return torch.exp(-0.5 * d2)
