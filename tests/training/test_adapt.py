"""Per-shot adaptation (training.adapt): bounded, never worse than the base model, cached
per shot, and used everywhere the colorizer runs (references, targets, records, workers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.errors import DaconError
from dacon_engine.model.featurizer import DaconFeaturizer
from dacon_engine.model.network import DaconConfig, DaconNet
from dacon_engine.segmentation.references import reference_from_arrays
from dacon_engine.training import adapt
from tests.support.art import draw


def tiny_net(seed: int = 0) -> DaconNet:
    torch.manual_seed(seed)
    return DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64, feat_dim=16))


def tiny_featurizer(seed: int = 0) -> DaconFeaturizer:
    return DaconFeaturizer(tiny_net(seed), "cpu", name="tiny-random")


def references(n: int = 1, size: int = 96):
    out = []
    for k in range(n):
        line, gt = draw(size, dx=4 * k, scale=1 + 0.05 * k)
        out.append(reference_from_arrays(gt, line, name=f"ref{k}"))
    return out


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DACON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(adapt, "MAX_PAIRS", 6)  # six pairs however long the budget
    monkeypatch.setattr(adapt, "HEAD_STEPS", 50)
    monkeypatch.setattr(adapt, "GENERIC_SIZE", 96)  # small generic pairs, two of each kind
    monkeypatch.setattr(adapt, "GENERIC_REPLAY", 2)
    monkeypatch.setattr(adapt, "GENERIC_GUARD", 2)


def _scores(monkeypatch, base: float, adapted: float, generic=(0.5, 0.5)) -> list:
    """held_out_accuracy gives ``base`` for the base weights on the shot's pairs and
    ``generic[0]`` on the generic ones, then ``adapted`` and ``generic[1]``."""
    calls: list = []

    def fake(net, pairs):
        calls.append(len(pairs))
        return (base, generic[0], adapted, generic[1])[len(calls) - 1]

    monkeypatch.setattr(adapt, "held_out_accuracy", fake)
    return calls


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_adapted_weights_are_kept_only_when_they_beat_the_base(monkeypatch):
    net = tiny_net()
    before = {k: v.clone() for k, v in net.head_state_dict().items()}
    _scores(monkeypatch, 0.5, 0.519)  # less than the 2-point margin
    tie = adapt.adapt_network(net, references(), 60, device=torch.device("cpu"))
    assert not tie.used and tie.state_dict is None and tie.pairs == 6
    assert "not better than the base model" in tie.reason
    calls = _scores(monkeypatch, 0.5, 0.75)
    won = adapt.adapt_network(net, references(), 60, device=torch.device("cpu"))
    assert won.used and (won.val_base, won.val_adapted) == (0.5, 0.75) and won.steps == 50
    # the base, then the adapted weights, once each on the shot's and the generic pairs
    assert calls == [adapt.VAL_PAIRS, adapt.GENERIC_GUARD] * 2
    changed = {k for k in before if not torch.equal(won.state_dict[k], before[k])}
    assert changed == {"unet.final_conv.weight", "unet.final_conv.bias"}  # the trunk is frozen
    assert _same(net.head_state_dict(), before)  # the base network is untouched


def test_a_loss_on_other_characters_vetoes_the_adapted_weights(monkeypatch):
    net = tiny_net()
    _scores(monkeypatch, 0.5, 0.9, generic=(0.70, 0.695))  # within the slack: kept
    kept = adapt.adapt_network(net, references(), 60, device=torch.device("cpu"))
    assert kept.used and (kept.generic_base, kept.generic_adapted) == (0.70, 0.695)
    _scores(monkeypatch, 0.5, 0.9, generic=(0.70, 0.685))  # 1.5 points lost: base kept
    vetoed = adapt.adapt_network(net, references(), 60, device=torch.device("cpu"))
    assert not vetoed.used and vetoed.state_dict is None
    assert "worse on other characters' new poses (0.700 -> 0.685)" in vetoed.reason
    record = vetoed.record()
    assert (record["generic_base"], record["generic_adapted"]) == (0.7, 0.685)


def test_generic_pairs_are_replayed_in_training():
    """Training on the shot's pairs alone and with the generic pairs replayed (same seeds)
    ends at different weights."""
    net, cpu = tiny_net(), torch.device("cpu")
    drawings = adapt._drawings(references())
    source = adapt._pool(net, drawings[0].frame, cpu, False)
    rng = np.random.default_rng(0)
    train = [(source, adapt._pool(net, adapt._pair(drawings, rng).target, cpu, False))
             for _ in range(6)]
    replay = [(adapt._pool(net, p.source, cpu, False), adapt._pool(net, p.target, cpu, False))
              for p in adapt.generic_pairs(96, 2, 2)[0]]

    def trained(replayed):
        work = tiny_net()
        torch.manual_seed(0)
        res = adapt._train_heads(work, work.head_parameters(), train, train[:2],
                                 np.random.default_rng(1), 0.0, replay=replayed)
        return {k: v.clone() for k, v in work.head_state_dict().items()}, res

    alone, res_alone = trained(())
    mixed, _ = trained(replay)
    assert res_alone.generic_base is None  # no guard given: none scored
    assert not _same(alone, mixed)


def test_generic_pairs_are_fixed_keyframe_pairs_of_other_poses():
    replay, guard = adapt.generic_pairs(96, 2, 3)
    assert (len(replay), len(guard)) == (2, 3)
    again = adapt.generic_pairs.__wrapped__(96, 2, 3)  # made anew, not from the cache
    for a, b in zip(replay + guard, again[0] + again[1]):
        assert np.array_equal(a.target.labels, b.target.labels)
        assert not np.array_equal(a.source.line, a.target.line)


def test_generic_pairs_pass_through_the_trunk_once_per_base_network(monkeypatch):
    """A second shot with the same base model reuses the generic pairs' pooled maps (the
    service adapts shot after shot); another base model gets its own."""
    made = []
    real = adapt.generic_pairs
    monkeypatch.setattr(adapt, "generic_pairs", lambda *a: made.append(a) or real(*a))
    net, other, cpu = tiny_net(), tiny_net(seed=1), torch.device("cpu")
    first = adapt.adapt_network(net, references(), 60, device=cpu)
    again = adapt.adapt_network(net, references(2), 60, device=cpu)
    assert len(made) == 1
    adapt.adapt_network(other, references(), 60, device=cpu)
    assert len(made) == 2
    # the same numbers as pooled afresh: the base scores on the guard pairs agree
    assert first.generic_base == again.generic_base is not None


def test_real_scores_decide_with_the_margin():
    res = adapt.adapt_network(tiny_net(), references(2), 60, device=torch.device("cpu"))
    assert res.val_base is not None and res.val_adapted is not None
    assert res.generic_base is not None and res.generic_adapted is not None
    assert res.used == (res.val_adapted >= res.val_base + adapt.MIN_GAIN
                        and res.generic_adapted >= res.generic_base - adapt.GENERIC_SLACK)


def test_too_short_a_budget_keeps_the_base():
    net = tiny_net()
    res = adapt.adapt_network(net, references(), 1e-3, device=torch.device("cpu"))
    assert not res.used and "made only 0 training pairs" in res.reason
    # the budget ended the generic pairs' passes too: none were kept for the next shot
    assert not adapt._GENERIC_POOLED.get(net)


def test_generic_pooling_gives_up_when_asked_and_keeps_nothing_partial():
    net, cpu = tiny_net(), torch.device("cpu")
    asked: list = []
    assert adapt._generic_pooled(net, net, cpu, False,
                                 give_up=lambda: asked.append(1) or len(asked) > 2) is None
    assert len(asked) == 3 and not adapt._GENERIC_POOLED[net]  # two pairs pooled, dropped
    replay, guard = adapt._generic_pooled(net, net, cpu, False, give_up=lambda: False)
    assert (len(replay), len(guard)) == (adapt.GENERIC_REPLAY, adapt.GENERIC_GUARD)
    assert guard[0][0].mirror is not None and guard[0][1].graph is not None
    assert replay[0][0].mirror is None and replay[0][0].graph is None


def test_validation_holds_every_pair_of_references_out():
    drawings = adapt._drawings(references(2))
    pairs = adapt.validation_pairs(drawings, seed=0, n=5)
    assert len(pairs) == 5
    assert (pairs[0].source, pairs[0].target) == (drawings[0].frame, drawings[1].frame)
    assert (pairs[1].source, pairs[1].target) == (drawings[1].frame, drawings[0].frame)
    # generated targets depart from their drawing but keep its colors
    for p in pairs[2:]:
        assert p.target is not p.source and p.target.n_segments > 0
        src = {tuple(c) for c in p.source.colors}
        assert sum(tuple(c) in src for c in p.target.colors) >= p.target.n_segments // 2


def test_held_out_accuracy_is_right_for_identical_frames():
    drawings = adapt._drawings(references())
    net = tiny_net()
    pooled = adapt._pool(net, drawings[0].frame, torch.device("cpu"), False)
    assert adapt.held_out_accuracy(net, [(pooled, pooled)]) == 1.0
    other = adapt._pool(net, adapt._drawings(references(2))[1].frame, torch.device("cpu"),
                        False)
    assert adapt.held_out_accuracy(net, [(pooled, other)]) < 1.0


def test_cancel_keeps_the_base_and_caches_nothing(monkeypatch, tmp_path):
    _scores(monkeypatch, 0.5, 0.9)
    res = adapt.adapt_to_shot(tiny_net(), references(), 60, device=torch.device("cpu"),
                              should_stop=lambda: True)
    assert (res.used, res.reason, res.pairs) == (False, "cancelled", 0)
    assert not (tmp_path / "cache").exists()


def test_a_second_run_reuses_the_cached_result(monkeypatch, tmp_path):
    net, refs = tiny_net(), references()
    _scores(monkeypatch, 0.5, 0.9)
    first = adapt.adapt_to_shot(net, refs, 60, device=torch.device("cpu"))
    assert first.used and not first.cached
    (entry,) = (tmp_path / "cache" / "adapted").glob("*.pt")
    assert entry.name == f"{first.key}.pt"

    def no_training(*a, **k):
        raise AssertionError("adaptation ran again")

    monkeypatch.setattr(adapt, "adapt_network", no_training)
    again = adapt.adapt_to_shot(net, refs, 60, device=torch.device("cpu"))
    assert again.cached and again.used and _same(again.state_dict, first.state_dict)
    entry.write_bytes(b"not a checkpoint")  # damaged: recomputed, never trusted
    with pytest.raises(AssertionError, match="ran again"):
        adapt.adapt_to_shot(net, refs, 60, device=torch.device("cpu"))


def test_the_cache_key_follows_references_weights_and_budget():
    net, refs = tiny_net(), references()
    key = adapt.shot_key(net, refs, 60, 0)
    assert adapt.shot_key(tiny_net(), references(), 60, 0) == key
    assert adapt.shot_key(tiny_net(seed=1), refs, 60, 0) != key
    assert adapt.shot_key(net, refs, 30, 0) != key
    recolored = references()
    recolored[0].colors[0] = (1, 2, 3, 255)
    assert adapt.shot_key(net, recolored, 60, 0) != key


def test_shrink_keeps_thin_lines_closed():
    line, gt = draw(192)
    small_line, small_gt = adapt.shrink(line, gt, 96)
    assert small_line.shape[:2] == small_gt.shape[:2] == (96, 96)
    from dacon_engine.segmentation.segments import segment_line_art

    assert segment_line_art(small_line)[1] == segment_line_art(line)[1]


def test_colorizer_matches_with_the_adapted_model(monkeypatch):
    _scores(monkeypatch, 0.5, 0.9)
    feat = tiny_featurizer()
    c = Colorizer(feat, adapt_seconds=30)
    line, gt = draw(96)
    c.add_reference(gt, line)
    (res,) = list(c.colorize([draw(96, dx=3)[0]]))
    assert c.adaptation is not None and c.adaptation.used
    assert c.featurizer is not feat and "shot adaptation" in c.model_name
    # the bank's reference rows come from the adapted network, not the base one
    ref = c.references[0]
    np.testing.assert_allclose(c.bank().features.numpy(),
                               c.featurizer.segment_features([ref.frame])[0].numpy(), atol=1e-6)
    assert not np.allclose(c.bank().features.numpy(),
                           feat.segment_features([ref.frame])[0].numpy(), atol=1e-3)
    record = c.matching_record(res)["adaptation"]
    assert record["used"] and record["pairs"] == 6 and record["val_adapted"] == 0.9
    assert "state_dict" not in record


def test_colorizer_keeps_the_base_model_when_adaptation_loses(monkeypatch):
    _scores(monkeypatch, 0.9, 0.5)
    feat = tiny_featurizer()
    c = Colorizer(feat, adapt_seconds=30, keep_reference_images=False)
    line, gt = draw(96)
    c.add_reference(gt, line)
    list(c.colorize([line]))
    assert c.featurizer is feat and not c.adaptation.used
    assert c.references[0].frame.line.size == 0  # lean references once features exist


def test_adapting_the_baseline_is_refused():
    with pytest.raises(DaconError, match="--adapt: model .*baseline.* no trained network"):
        Colorizer("baseline", adapt_seconds=10)


@pytest.mark.parametrize("bad", [-1, float("nan"), True, 4000, "60"])
def test_bad_budgets_are_refused_naming_the_option(bad):
    with pytest.raises(DaconError, match=r"--adapt-seconds .*: give the adaptation time budget"):
        Colorizer(tiny_featurizer(), adapt_seconds=bad)


def test_held_out_pairs_are_matched_as_frames_are_with_mirrored_sources():
    """A held-out target drawn the other way round scores as the colorizer would match it
    (the mirrored source), not by the plain best match."""
    drawings = adapt._drawings(references())
    frame = drawings[0].frame
    net, cpu = tiny_net(), torch.device("cpu")
    src = adapt._pool_for_matching(net, frame, cpu, False, mirror=True)
    flipped = adapt.TrainFrame(frame.line[:, ::-1].copy(), frame.labels[:, ::-1].copy(),
                               frame.colors)
    tgt = adapt._pool_for_matching(net, flipped, cpu, False, mirror=False)
    assert src.graph is not None and tgt.graph is not None
    assert adapt.held_out_accuracy(net, [(src, tgt)]) == 1.0
    src.mirror = None
    assert adapt.held_out_accuracy(net, [(src, tgt)]) < 1.0
