"""DACoN training losses (paper §3; reference ``losses/loss.py``), vectorized.

Both take cosine-similarity matrices between the valid segments of a target frame (rows)
and ALL valid segments of its source/reference frames (columns); no padded slots.
"""

from __future__ import annotations

import torch

TAU = 0.1


def color_ce_loss(sim: torch.Tensor, src_color: torch.Tensor, tgt_color: torch.Tensor,
                  tau: float = TAU) -> torch.Tensor:
    """Cross-entropy over source colors.

    sim: (N, M) cosine similarity; src_color: (M,) int64 color ids; tgt_color: (N,) ids.
    Softmax over the M source segments at temperature ``tau``; the probability of segments
    sharing a color is summed; the loss is the mean NLL of the target's true color.
    Targets whose color does not occur in the source are left out (0 if none remain).
    """
    classes, src_class = torch.unique(src_color, return_inverse=True)
    prob = torch.softmax(sim / tau, dim=1)
    class_prob = prob.new_zeros(prob.shape[0], classes.numel()).index_add_(1, src_class, prob)
    # position of each target color among the source classes
    pos = torch.searchsorted(classes, tgt_color).clamp(max=classes.numel() - 1)
    valid = classes[pos] == tgt_color
    if not bool(valid.any()):
        return sim.sum() * 0.0
    p = class_prob[valid].gather(1, pos[valid, None]).squeeze(1)
    return -torch.log(p + 1e-15).mean()


def dino_consistency_loss(sim_fused: torch.Tensor, sim_dino: torch.Tensor,
                          tau: float = TAU) -> torch.Tensor:
    """L1 between fused-feature and raw-DINO segment similarities, both divided by tau.

    ``sim_dino`` is a fixed target (no gradient). Unlike the reference, padded slots are
    not averaged in: callers pass only valid segments.
    """
    return (sim_fused / tau - sim_dino.detach() / tau).abs().mean()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, D) x (M, D) -> (N, M) cosine similarity."""
    a = torch.nn.functional.normalize(a, dim=-1, eps=1e-6)
    b = torch.nn.functional.normalize(b, dim=-1, eps=1e-6)
    return a @ b.T
