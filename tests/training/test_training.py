"""A tiny training run end to end: steps, resume, logs, export, and use of the export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.training.loop import TrainConfig, export_model, train
from tests.support.art import draw

TINY = {"mode": "unet", "unet_base": 4, "unet_input": 64, "feat_dim": 16, "coord_input": True,
        "antialias": True}


def test_train_resume_export(tmp_path):
    run = tmp_path / "run"
    cfg = TrainConfig(run_dir=str(run), steps=2, batch=1, size=128, ckpt_every=1, log_every=1,
                      val_every=0, model=dict(TINY), lr=1e-3)
    last = train(cfg, quiet=True)
    assert torch.load(last, weights_only=True)["step"] == 2
    first = torch.load(last, weights_only=True)["state_dict"]["unet.final_conv.weight"].clone()
    cfg.steps = 3
    train(cfg, quiet=True)  # resumes at step 2, runs one more
    state = torch.load(last, weights_only=True)
    assert state["step"] == 3
    assert not torch.equal(state["state_dict"]["unet.final_conv.weight"], first)
    rows = [json.loads(x) for x in (run / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) for r in rows)

    model = tmp_path / "tiny.pt"
    export_model(last, model, {"note": "test"})
    c = Colorizer(model)
    line, gt = draw(96)
    c.add_reference(gt, line)
    (res,) = list(c.colorize([draw(96, dx=3)[0]]))
    assert res.assignment.colors.shape == (res.frame.n_segments, 4)
    assert res.features.shape[1] == 16

    larger = tmp_path / "larger.pt"
    export_model(last, larger, config={"unet_input": 96})  # inference input != training's
    net = Colorizer(larger).featurizer.net
    assert net.config.unet_input == 96
    assert net.prepare(torch.zeros(1, 3, 50, 70))["unet"].shape[-2:] == (96, 96)
    with pytest.raises(ValueError, match="unknown config keys"):
        export_model(last, tmp_path / "bad.pt", config={"unet_size": 96})
    with pytest.raises(ValueError, match="unet_input 100 must be a multiple of 16"):
        export_model(last, tmp_path / "bad.pt", config={"unet_input": 100})
    assert not (tmp_path / "bad.pt").exists()

    warm = TrainConfig(run_dir=str(tmp_path / "warm"), steps=1, batch=1, size=128, val_every=0,
                       model=dict(TINY), lr=0.0, init=str(model))
    state2 = torch.load(train(warm, quiet=True), weights_only=True)
    shipped = torch.load(model, weights_only=True)["state_dict"]["unet.final_conv.weight"]
    assert shipped.dtype == torch.float16  # shipped weights are stored in half precision
    torch.testing.assert_close(state2["state_dict"]["unet.final_conv.weight"], shipped.float())


def test_scatter_mean_equals_segment_pooling_at_native_size():
    from dacon_engine.model.pooling import segment_pool
    from dacon_engine.training.loop import scatter_mean

    labels = np.random.default_rng(0).integers(0, 6, (40, 40)).astype(np.int32)
    feat = torch.randn(8, 40, 40)
    torch.testing.assert_close(scatter_mean(feat, labels, 5), segment_pool(feat, labels, 5, 512))


def test_box_coordinates_follow_the_drawing():
    from dacon_engine.model.network import box_coordinates

    img = torch.ones(1, 3, 10, 20)
    img[0, :, 2:6, 5:15] = 0  # ink box rows 2..5, cols 5..14
    c = box_coordinates(img)
    assert c.shape == (1, 2, 10, 20)
    assert c[0, 0, 3, 5] == -1 and c[0, 0, 3, 14] == 1
    assert c[0, 1, 2, 7] == -1 and c[0, 1, 5, 7] == 1
    shifted = torch.roll(img, shifts=(3, 4), dims=(2, 3))
    torch.testing.assert_close(box_coordinates(shifted)[0, :, 5, 9], c[0, :, 2, 5])


def test_train_command_records_its_options(tmp_path):
    from dacon_engine.jobs.cli import main

    run = tmp_path / "run"
    rc = main(["train", "--run", str(run), "--steps", "1", "--batch", "1", "--size", "96",
               "--unet-base", "4", "--unet-input", "64", "--amp", "off",
               "--keyframe-fraction", "1.0", "--warp-fraction", "0.25",
               "--degrade-fraction", "0.5", "--new-shape-fraction", "0.75",
               "--data-workers", "1", "--quiet"])
    assert rc == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["amp"] is False and cfg["keyframe_fraction"] == 1.0
    assert cfg["warp_fraction"] == 0.25 and cfg["degrade_fraction"] == 0.5
    assert cfg["new_shape_fraction"] == 0.75 and cfg["data_workers"] == 1
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 1


def test_amp_auto_follows_the_device(tmp_path, monkeypatch):
    from dacon_engine.training import loop

    seen = []
    real = loop.pair_losses

    def spy(net, pairs, device, amp=False):
        seen.append(amp)
        return real(net, pairs, device, False)

    monkeypatch.setattr(loop, "pair_losses", spy)
    for native, amp, expected in ((True, None, True), (False, None, False), (False, True, True)):
        monkeypatch.setattr(loop, "bf16_is_fast", lambda device, n=native: n)
        cfg = TrainConfig(run_dir=str(tmp_path / f"r{len(seen)}"), steps=1, batch=1, size=96,
                          val_every=0, model=dict(TINY), amp=amp)
        train(cfg, quiet=True)
        assert seen[-1] is expected
    assert loop.bf16_is_fast(torch.device("meta")) is False


def test_check_config_refuses_fractions_outside_0_1(tmp_path):
    from dacon_engine.errors import DaconError
    from dacon_engine.training.loop import check_config

    with pytest.raises(DaconError, match="--data-workers -2: must be a whole number >= 0"):
        check_config(TrainConfig(run_dir=str(tmp_path / "r"), data_workers=-2))
    for field, option in (("warp_fraction", "--warp-fraction"),
                          ("degrade_fraction", "--degrade-fraction"),
                          ("new_shape_fraction", "--new-shape-fraction"),
                          ("closeup_fraction", "--closeup-fraction")):
        cfg = TrainConfig(run_dir=str(tmp_path / "r"), **{field: 1.5})
        with pytest.raises(DaconError, match=f"{option} 1.5: must be a number from 0 to 1"):
            check_config(cfg)


def _pairs(n, **kw):
    from dacon_engine.training.data import SynthPairs

    it = iter(SynthPairs(3, 128, **kw))
    return [next(it) for _ in range(n)]


def test_warp_pairs_warp_the_source_itself():
    for p in _pairs(3, keyframe_fraction=0.0, warp_fraction=1.0):
        assert p.target.line.shape == p.source.line.shape
        # the target's colors are the source's (one drawing), background and line aside
        src = {tuple(c) for c in p.source.colors}
        assert {tuple(c) for c in p.target.colors} <= src | {(0, 0, 0, 0), (0, 0, 0, 255)}
        # and it is not the same picture
        assert not np.array_equal(p.target.line, p.source.line)


def test_pairs_without_warp_or_degradation_are_unchanged():
    plain = _pairs(2, keyframe_fraction=0.5)
    again = _pairs(2, keyframe_fraction=0.5, warp_fraction=0.0, degrade_fraction=0.0)
    for a, b in zip(plain, again):
        np.testing.assert_array_equal(a.target.line, b.target.line)
        assert a.target.line.shape[2] == 4  # clean RGBA art, no export applied


def test_degraded_targets_are_exported_art_with_the_same_ground_truth():
    clean = _pairs(3, keyframe_fraction=0.0, warp_fraction=1.0)
    for p in _pairs(3, keyframe_fraction=0.0, warp_fraction=1.0, degrade_fraction=1.0):
        assert p.target.line.shape[2] == 3  # an RGB export, not the RGBA clean art
        assert len(np.unique(p.target.line)) > 2  # grey levels: anti-aliasing, JPEG or scan
        assert p.target.n_segments > 0 and p.target.colors.shape == (p.target.n_segments, 4)
    assert all(c.target.line.shape[2] == 4 for c in clean)


def test_new_shape_pairs_gain_closed_shapes_in_one_frame(monkeypatch):
    from dacon_engine.synth import newshapes

    calls = []
    real = newshapes.insert_shapes

    def spy(line, gt, rng, n=2, **kw):
        out = real(line, gt, rng, n=n, **kw)
        calls.append(out[2])
        return out

    monkeypatch.setattr(newshapes, "insert_shapes", spy)
    pairs = _pairs(6, keyframe_fraction=0.0, new_shape_fraction=1.0)
    assert len(calls) == 6 and sum(calls) >= 6  # every pair, 1-3 shapes each
    plain = _pairs(6, keyframe_fraction=0.0)
    assert len(calls) == 6  # fraction 0: none
    # the first pair is the plain stream's first, with shapes added to one of its frames
    # (fraction 0 draws nothing from the stream's generator: older runs' data stay as were)
    grown = (pairs[0].source.n_segments - plain[0].source.n_segments,
             pairs[0].target.n_segments - plain[0].target.n_segments)
    assert min(grown) == 0 and 1 <= max(grown) <= 3


def test_closeup_fraction_zooms_one_frame_of_every_pair(monkeypatch):
    from dacon_engine.synth import warps

    real, made = warps.closeup, []

    def spy(line, gt, rng, zoom=warps.CLOSEUP_ZOOM, **kw):
        assert zoom == warps.CLOSEUP_TRAIN_ZOOM
        made.append(real(line, gt, rng, zoom=zoom, **kw))
        return made[-1]

    monkeypatch.setattr(warps, "closeup", spy)
    pairs = _pairs(8, keyframe_fraction=0.0, closeup_fraction=1.0)
    assert len(made) == 8
    zoomed = [("target" if p.target.line is line else "source" if p.source.line is line
               else None) for p, (line, _) in zip(pairs, made)]
    assert None not in zoomed and {"target", "source"} <= set(zoomed)  # mostly targets
    assert zoomed.count("target") > zoomed.count("source")
    plain = _pairs(8, keyframe_fraction=0.0)
    assert len(made) == 8  # fraction 0: none
    # the first pair is the plain stream's first, one frame seen closer: fewer segments
    p, q = pairs[0], plain[0]
    k = zoomed[0]
    assert getattr(p, k).n_segments < getattr(q, k).n_segments
    other = "source" if k == "target" else "target"
    assert np.array_equal(getattr(p, other).labels, getattr(q, other).labels)


def test_data_workers_make_a_fixed_stream_of_distinct_pairs():
    from dacon_engine.training.data import SynthPairs, parallel_pairs

    def take(workers, n=4):
        it = parallel_pairs(SynthPairs(5, 96), workers)
        return [next(it) for _ in range(n)]

    a, b = take(2), take(2)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.target.line, q.target.line)
    # workers run differently seeded streams: no two pairs alike
    lines = [p.target.line.tobytes() for p in a]
    assert len(set(lines)) == 4
    serial = take(0)
    np.testing.assert_array_equal(serial[0].target.line,
                                  next(iter(SynthPairs(5, 96))).target.line)


def test_max_minutes_stops_and_saves_an_interrupt_keeps_the_steps_done(tmp_path, monkeypatch):
    from dacon_engine.training import loop

    cfg = TrainConfig(run_dir=str(tmp_path / "a"), steps=1000, batch=1, size=96,
                      val_every=0, model=dict(TINY), max_minutes=1e-9)
    last = train(cfg, quiet=True)
    assert torch.load(last, weights_only=True)["step"] == 1  # out of time after one step
    rows = [json.loads(x) for x in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 1

    calls = []
    real = loop.pair_losses

    def interrupted(*a, **kw):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(loop, "pair_losses", interrupted)
    cfg = TrainConfig(run_dir=str(tmp_path / "b"), steps=1000, batch=1, size=96,
                      val_every=0, model=dict(TINY))  # checkpoints every 25 steps
    with pytest.raises(KeyboardInterrupt):
        train(cfg, quiet=True)
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=True)["step"] == 3


def test_sigterm_to_dacon_train_saves_the_steps_done_and_exits_130(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from dacon_engine.jobs.cli import main
    from dacon_engine.training import loop

    calls = []
    real = loop.pair_losses

    def killed(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # what a farm's scheduler sends
        return real(*a, **kw)

    monkeypatch.setattr(loop, "pair_losses", killed)
    before = signal.getsignal(signal.SIGTERM)
    run = tmp_path / "run"
    code = main(["train", "--run", str(run), "--steps", "1000", "--batch", "1", "--size", "96",
                 "--unet-base", "4", "--unet-input", "64", "--amp", "off", "--quiet"])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert torch.load(run / "last.pt", weights_only=True)["step"] in (2, 3)
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the command's only


def test_validation_pairs_are_the_same_made_by_workers():
    from dacon_engine.training.loop import validation_pairs

    cfg = TrainConfig(run_dir="unused", size=96, val_pairs=2)
    here = validation_pairs(cfg)
    cfg.data_workers = 2
    there = validation_pairs(cfg)
    assert list(here) == list(there) == ["consecutive", "keyframe"]
    for regime in here:
        assert len(here[regime]) == 2
        for a, b in zip(here[regime], there[regime]):
            np.testing.assert_array_equal(a.target.labels, b.target.labels)
            np.testing.assert_array_equal(a.source.colors, b.source.colors)
    assert not np.array_equal(here["consecutive"][0].target.line,
                              here["consecutive"][1].target.line)
