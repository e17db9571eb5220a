"""Mirrored references: a pose drawn facing the other way matches the reference's mirror;
and the same whole-frame test for magnified references (``--ref-zoom``).

Animation mirrors characters (a turn, a flipped layout), and the model's features are not
mirror-invariant (its coordinate input, for one). With mirroring on, every reference is
also featurized flipped left-right; the flipped frame keeps the reference's labels, so it
has the same segments, colors and segment graph. Per target frame, the whole reference
part of the bank is matched either as drawn or mirrored: mirrored when the mean over the
target's segments of the best similarity is higher by more than ``MARGIN`` (in units of
the frame's similarity spread, its standard deviation, as in ``graphrefine``).

Measured on warps of a real frame (``scripts/bench_quality.py``): large warps with mirror
flips gain about 16 points of Acc; mild warps and the synthetic suites are unchanged or
slightly better (the margin keeps near ties as drawn).
"""

from __future__ import annotations

import torch

from ..frames import SegmentedFrame
from .graphrefine import SPREAD

MARGIN = 0.005 / SPREAD  # 0.005 in the default model's similarity units
VIEWS_MARGIN = 0.17
"""Magnified references are used when the mean best similarity gains more than this many
spreads: chosen on tuning close-ups and warps (other seeds than the benchmark's), where
0.16-0.18 took 23 of 24 close-ups and 2 of 44 other frames."""


def mirrored_frame(frame: SegmentedFrame) -> SegmentedFrame:
    """``frame`` flipped left-right (line art and labels; same segment numbers)."""
    # copies, not ascontiguousarray: a view of size 1 counts as contiguous and would
    # keep its negative stride (torch.from_numpy refuses those)
    return SegmentedFrame(frame.line[:, ::-1].copy(), frame.labels[:, ::-1].copy(),
                          frame.n_segments,
                          frame.path, dict(frame.line_art))


def prefer_mirror(as_drawn: torch.Tensor, mirrored: torch.Tensor,
                  margin: float = MARGIN) -> bool:
    """True when a target frame's (N, M) similarities to the mirrored references beat those
    to the references as drawn: mean best similarity per segment higher by more than
    ``margin`` times the spread (standard deviation) of ``as_drawn``."""
    if as_drawn.shape != mirrored.shape:
        raise ValueError(f"similarities {tuple(as_drawn.shape)} and "
                         f"{tuple(mirrored.shape)} differ")
    if as_drawn.numel() == 0:
        return False
    a, m = as_drawn.float(), mirrored.float()
    gain = float(m.max(dim=1).values.mean() - a.max(dim=1).values.mean())
    return gain > margin * float(a.std(unbiased=False))



def prefer_views(similarity: torch.Tensor, views: torch.Tensor,
                 margin: float = VIEWS_MARGIN) -> bool:
    """True when a target frame's (N, M) similarities fit it better with the magnified
    references (``views``: (M,) bool mask of their columns) than with the references as
    drawn alone: the mean best similarity per segment higher by more than ``margin`` times
    the spread of the similarities to the references as drawn (``prefer_mirror``'s test)."""
    drawn = similarity[:, ~views].float()
    if drawn.numel() == 0 or not bool(views.any()):
        return False
    gain = float(similarity.float().max(dim=1).values.mean() - drawn.max(dim=1).values.mean())
    return gain > margin * float(drawn.std(unbiased=False))
