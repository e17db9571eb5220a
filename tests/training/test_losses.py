"""The training losses against hand-computed values."""

import math

import torch

from dacon_engine.training.losses import color_ce_loss, dino_consistency_loss


def test_color_ce_sums_probability_of_same_colored_sources():
    sim = torch.tensor([[1.0, 1.0, 0.0]])          # one target, three sources
    src = torch.tensor([7, 7, 9])                 # two sources share color 7
    loss = color_ce_loss(sim, src, torch.tensor([7]), tau=1.0)
    e = math.e
    expected = -math.log((e + e) / (e + e + 1))
    assert abs(float(loss) - expected) < 1e-6


def test_color_ce_skips_targets_without_source_color():
    sim = torch.tensor([[0.2, 0.9], [0.5, 0.1]])
    src = torch.tensor([3, 4])
    only_first = color_ce_loss(sim[:1], src, torch.tensor([4]))
    both = color_ce_loss(sim, src, torch.tensor([4, 99]))
    assert torch.allclose(only_first, both)
    none = color_ce_loss(sim, src, torch.tensor([98, 99]))
    assert float(none) == 0.0


def test_color_ce_decreases_when_right_match_is_more_similar():
    src = torch.tensor([1, 2])
    worse = color_ce_loss(torch.tensor([[0.1, 0.9]]), src, torch.tensor([1]))
    better = color_ce_loss(torch.tensor([[0.9, 0.1]]), src, torch.tensor([1]))
    assert float(better) < float(worse)


def test_color_ce_has_gradient():
    sim = torch.zeros(2, 3, requires_grad=True)
    color_ce_loss(sim, torch.tensor([1, 2, 3]), torch.tensor([1, 3])).backward()
    assert sim.grad is not None and float(sim.grad.abs().sum()) > 0


def test_dino_consistency_is_l1_over_tau_without_grad_to_target():
    fused = torch.tensor([[0.5, 0.0]], requires_grad=True)
    dino = torch.tensor([[0.4, 0.2]], requires_grad=True)
    loss = dino_consistency_loss(fused, dino, tau=0.1)
    assert abs(loss.item() - (1.0 + 2.0) / 2) < 1e-5
    loss.backward()
    assert dino.grad is None
