"""Matching target segments against one bank built from ALL references.

Every model (the geometric baseline, DACoN, zero-shot DINOv2) plugs in through
:class:`SegmentFeaturizer`: it turns segmented frames into per-segment features and
defines a similarity between them. :func:`assign` then gives each target segment the
color of its most similar bank segment, with a confidence.

Confidence (documented contract, written to every output):
    s1     = top-1 similarity, mapped to [0, 1] by the featurizer's ``similarity``
    s_alt  = best similarity among bank segments whose color differs from the winner's
             (0 when the bank has a single color)
    margin = s1 - s_alt
    confidence = clip(s1, 0, 1) * clip(margin / MARGIN_SCALE, 0, 1) ** 0.5
so a segment is confident only when it matches something well AND no differently-colored
segment comes close. MARGIN_SCALE = 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..frames import Reference, SegmentedFrame

MARGIN_SCALE = 0.1


class SegmentFeaturizer(Protocol):
    """What a model provides to the matcher."""

    name: str

    def segment_features(self, frames: Sequence[SegmentedFrame]) -> list[torch.Tensor]:
        """Per frame, an (n_segments, D) float tensor; row i describes label i+1."""
        ...

    def similarity(self, target: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        """(N, D) x (M, D) -> (N, M) similarities in [0, 1] (1 = identical)."""
        ...


def cosine_similarity01(target: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of L2-normalized rows, mapped from [-1, 1] to [0, 1]."""
    t = torch.nn.functional.normalize(target.float(), dim=-1, eps=1e-6)
    b = torch.nn.functional.normalize(bank.float(), dim=-1, eps=1e-6)
    return (t @ b.T + 1.0) * 0.5


@dataclass
class Bank:
    """Segments of all references, stacked.

    features: (M, D); colors: (M, 4) uint8; ref_index / ref_segment: (M,) int64
    (which reference, and which label in it, each bank row came from).
    """

    features: torch.Tensor
    colors: np.ndarray
    ref_index: np.ndarray
    ref_segment: np.ndarray

    @classmethod
    def build(cls, references: Sequence[Reference], features: Sequence[torch.Tensor],
              ref_ids: Sequence[int] | None = None) -> "Bank":
        if not references:
            raise ValueError("a bank needs at least one reference")
        ids = list(range(len(references))) if ref_ids is None else list(ref_ids)
        return cls(
            features=torch.cat([f.float() for f in features], 0),
            colors=np.concatenate([r.colors for r in references], 0).astype(np.uint8),
            ref_index=np.concatenate(
                [np.full(r.frame.n_segments, i, np.int64) for i, r in zip(ids, references)]),
            ref_segment=np.concatenate(
                [np.arange(1, r.frame.n_segments + 1, dtype=np.int64) for r in references]),
        )

    def extend(self, other: "Bank") -> "Bank":
        return Bank(
            torch.cat([self.features, other.features.to(self.features)], 0),
            np.concatenate([self.colors, other.colors]),
            np.concatenate([self.ref_index, other.ref_index]),
            np.concatenate([self.ref_segment, other.ref_segment]),
        )

    def __len__(self) -> int:
        return int(self.features.shape[0])


@dataclass
class Assignment:
    """Per target segment (row i = label i+1): color, confidence and where it came from."""

    colors: np.ndarray        # (N, 4) uint8
    confidence: np.ndarray    # (N,) float32 in [0, 1]
    similarity: np.ndarray    # (N,) float32 top-1 similarity
    ref_index: np.ndarray     # (N,) int64
    ref_segment: np.ndarray   # (N,) int64


def color_ids(colors: np.ndarray) -> np.ndarray:
    """(M, 4) uint8 RGBA -> (M,) int64 id equal for equal colors."""
    c = colors.astype(np.int64)
    return (c[:, 0] << 24) | (c[:, 1] << 16) | (c[:, 2] << 8) | c[:, 3]


def assign(similarity: torch.Tensor, bank: Bank,
           scores: torch.Tensor | None = None) -> Assignment:
    """Best match per target row of an (N, M) similarity matrix, with confidence.

    scores: optional (N, M) scores that pick the match instead of ``similarity`` (e.g.
    rescored by the segment graph); similarity and confidence are still those of
    ``similarity`` at the match picked, so a pick that loses to a differently colored
    bank segment on similarity has confidence 0.
    """
    sim = similarity.float()
    n = sim.shape[0]
    if n == 0:
        z = np.zeros(0)
        return Assignment(np.zeros((0, 4), np.uint8), z.astype(np.float32),
                          z.astype(np.float32), z.astype(np.int64), z.astype(np.int64))
    if scores is None:
        s1, best = sim.max(dim=1)
    else:
        if tuple(scores.shape) != tuple(sim.shape):
            raise ValueError(f"scores {tuple(scores.shape)} differ from similarity "
                             f"{tuple(sim.shape)}")
        best = scores.float().to(sim.device).max(dim=1).indices
        s1 = sim.gather(1, best[:, None]).squeeze(1)
    cid = torch.from_numpy(color_ids(bank.colors)).to(sim.device)
    other = cid[None, :] != cid[best][:, None]
    s_alt = torch.where(other, sim, torch.zeros_like(sim)).max(dim=1).values
    margin = (s1 - s_alt).clamp(0, MARGIN_SCALE) / MARGIN_SCALE
    conf = s1.clamp(0, 1) * margin.sqrt()
    best_np = best.cpu().numpy()
    return Assignment(
        colors=bank.colors[best_np],
        confidence=conf.cpu().numpy().astype(np.float32),
        similarity=s1.cpu().numpy().astype(np.float32),
        ref_index=bank.ref_index[best_np],
        ref_segment=bank.ref_segment[best_np],
    )
