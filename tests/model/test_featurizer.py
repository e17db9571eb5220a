"""DaconFeaturizer: batching invariance, compositing on white, protocol, registry."""

import numpy as np
import pytest
import torch

import dacon_engine.model.registry as R
from dacon_engine.errors import DaconError
from dacon_engine.frames import SegmentedFrame
from dacon_engine.model import (
    DaconConfig,
    DaconFeaturizer,
    DaconNet,
    build_featurizer,
    line_to_rgb01,
    list_models,
    save_checkpoint,
)
from dacon_engine.model.backbone import build_vit
from dacon_engine.model.weights import load_dinov2


def make_frame(rng, h, w, n, under=None):
    lab = rng.integers(1, n + 1, size=(h // 6 + 1, w // 6 + 1))
    lab = np.kron(lab, np.ones((6, 6), np.int64))[:h, :w].astype(np.int32)
    lab[::7, :] = 0
    lab[:, ::9] = 0
    lab[:6, :6] = n  # make sure every label exists
    for s in range(1, n + 1):
        if not (lab == s).any():
            lab[-1, s] = s
    line = np.zeros((h, w, 4), np.uint8)
    line[..., :3] = rng.integers(0, 256, (h, w, 3)) if under is None else under
    line[lab == 0] = (0, 0, 0, 255)
    return SegmentedFrame(line=line, labels=lab, n_segments=n)


def randomize(net, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        for k, p in net.named_parameters():
            if not k.startswith("dino."):
                p.copy_(torch.randn_like(p) * 0.3)
    return net.eval()


def tiny_unet_net():
    return randomize(DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64, feat_dim=16)))


def tiny_dino_file(folder, dim=32):
    torch.manual_seed(0)
    vit = build_vit(dim, 2, 1, img_size=56)
    with torch.no_grad():
        for p in vit.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    path = folder / "dino_tiny.pth"
    torch.save(vit.state_dict(), path)
    return path


def tiny_v11_net(dino_path):
    bb = load_dinov2(dino_path, norm="raw01")
    return randomize(DaconNet(DaconConfig(mode="v1.1", unet_base=4, unet_input=64, dino_dim=32), bb))


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    return [make_frame(rng, 60, 80, 7), make_frame(rng, 64, 64, 12), make_frame(rng, 90, 50, 3)]


@pytest.mark.parametrize("kind", ["unet", "v1.1", "zeroshot"])
def test_batching_invariance(tmp_path, frames, kind):
    if kind == "unet":
        net = tiny_unet_net()
    elif kind == "v1.1":
        net = tiny_v11_net(tiny_dino_file(tmp_path))
    else:
        bb = load_dinov2(tiny_dino_file(tmp_path))
        net = DaconNet(DaconConfig(mode="zeroshot", dino_dim=32, dino_norm="imagenet"), bb)
    one = DaconFeaturizer(net, "cpu", batch_size=1)
    many = DaconFeaturizer(net, "cpu", batch_size=3)
    a = [one.segment_features([f])[0] for f in frames]
    b = many.segment_features(frames)
    assert len(b) == 3
    for f, x, y in zip(frames, a, b):
        assert x.shape == y.shape == (f.n_segments, net.out_dim)
        assert x.device.type == "cpu" and x.dtype == torch.float32
        assert torch.allclose(x, y, atol=1e-5)
        assert torch.allclose(x.norm(dim=1), torch.ones(f.n_segments), atol=1e-5)
    sim = many.similarity(b[0], torch.cat(b[1:]))
    assert sim.shape == (7, 15) and sim.min() >= 0 and sim.max() <= 1 + 1e-6
    assert {"unet": "unet-only", "v1.1": "dacon-v1.1", "zeroshot": "zeroshot-dinov2"}[kind] in many.name


def test_rgb_under_transparency_is_ignored():
    rng = np.random.default_rng(3)
    f_white = make_frame(np.random.default_rng(3), 48, 48, 5, under=255)
    f_black = make_frame(np.random.default_rng(3), 48, 48, 5, under=0)
    f_noise = make_frame(rng, 48, 48, 5)
    assert np.array_equal(f_white.labels, f_black.labels)
    feat = DaconFeaturizer(tiny_unet_net(), "cpu")
    a, b, c = feat.segment_features([f_white, f_black, f_noise])
    assert torch.equal(a, b) and torch.equal(a, c)
    rgb = line_to_rgb01(f_black.line)
    assert rgb.shape == (3, 48, 48) and rgb[:, f_black.labels > 0].min() == 1.0


def test_line_to_rgb01_formats():
    gray = np.full((4, 5), 128, np.uint8)
    assert torch.allclose(line_to_rgb01(gray), torch.full((3, 4, 5), 128 / 255))
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert line_to_rgb01(rgb).sum() == 0
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 128)
    out = line_to_rgb01(rgba)
    assert torch.allclose(out[:, 0, 0], torch.tensor([1.0, 1 - 128 / 255, 1 - 128 / 255]))
    assert torch.all(out[:, 1, 1] == 1)


def test_empty_frame():
    f = SegmentedFrame(line=np.zeros((32, 32, 4), np.uint8), labels=np.zeros((32, 32), np.int32), n_segments=0)
    assert DaconFeaturizer(tiny_unet_net(), "cpu").segment_features([f])[0].shape == (0, 16)


# ----------------------------------------------------------------------------- registry
@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch, tmp_path):
    R.clear_cache()
    for v in ("DACON_DINOV2_WEIGHTS", "DACON_V1_1_CHECKPOINT", "DACON_V1_0_CHECKPOINT",
              "DACON_UNET_CHECKPOINT"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("DACON_WEIGHTS_DIR", str(tmp_path / "weights"))
    yield
    R.clear_cache()


def test_own_checkpoint_roundtrip_and_cache(tmp_path, frames):
    net = tiny_unet_net()
    ck = tmp_path / "mine.pt"
    save_checkpoint(net, ck)
    obj = torch.load(ck, weights_only=True)
    assert obj["format"] == "dacon-engine" and obj["config"]["unet_base"] == 4
    f1 = build_featurizer(ck, device="cpu")
    assert build_featurizer(str(ck), device="cpu") is f1  # cached
    want = DaconFeaturizer(net, "cpu").segment_features(frames)
    for a, b in zip(f1.segment_features(frames), want):
        assert torch.allclose(a, b, atol=1e-6)


def test_default_model(tmp_path, monkeypatch, frames):
    missing = tmp_path / "nothing" / "default.pt"
    monkeypatch.setitem(R.SPECS, "default", R.ModelSpec("default", "x", False, fixed_path=missing))
    assert [m for m in list_models() if m["name"] == "default"][0]["available"] is False
    with pytest.raises(DaconError, match=r"default\.pt: model 'default' is not available"):
        build_featurizer("default", device="cpu")
    missing.parent.mkdir()
    save_checkpoint(tiny_unet_net(), missing)
    assert [m for m in list_models() if m["name"] == "default"][0]["available"] is True
    assert build_featurizer("default", device="cpu").segment_features(frames[:1])[0].shape == (7, 16)


def test_list_models_shape():
    ms = list_models()
    assert {m["name"] for m in ms} == {"default", "dacon-v1.1", "dacon-v1.0", "zeroshot-dinov2", "unet-only"}
    for m in ms:
        assert set(m) == {"name", "available", "needs", "description"}
    assert not [m for m in ms if m["name"] == "zeroshot-dinov2"][0]["available"]


def test_named_models_from_env(tmp_path, monkeypatch, frames):
    dino = tiny_dino_file(tmp_path)
    with pytest.raises(DaconError, match="DACON_DINOV2_WEIGHTS"):
        build_featurizer("zeroshot-dinov2", device="cpu")
    monkeypatch.setenv("DACON_DINOV2_WEIGHTS", str(dino))
    zs = build_featurizer("zeroshot-dinov2", device="cpu")
    assert zs.segment_features(frames[:1])[0].shape == (7, 32)
    # official v1.1 state dict in $DACON_WEIGHTS_DIR/dacon_v1_1.pth
    with pytest.raises(DaconError, match="not available"):
        build_featurizer("dacon-v1.1", device="cpu")
    wd = tmp_path / "weights"
    wd.mkdir()
    torch.save(tiny_v11_net(dino).head_state_dict(), wd / "dacon_v1_1.pth")
    v11 = build_featurizer("dacon-v1.1", device="cpu")
    assert v11.net.config.mode == "v1.1" and v11.name.startswith("dacon-v1.1")
    with pytest.raises(DaconError, match=r"is a 'v1\.1' checkpoint, expected 'v1\.0'"):
        build_featurizer("dacon-v1.0", device="cpu", checkpoint=wd / "dacon_v1_1.pth")
    ck = tmp_path / "u.pt"
    save_checkpoint(tiny_unet_net(), ck)
    monkeypatch.setenv("DACON_UNET_CHECKPOINT", str(ck))
    assert build_featurizer("unet-only", device="cpu").net.config.mode == "unet"
    with pytest.raises(DaconError, match="unknown model"):
        build_featurizer("no-such-model", device="cpu")


def test_training_state_is_loadable(tmp_path, frames):
    """A `dacon train` state (format dacon-engine-train, with optimizer) loads with its config."""
    net = randomize(DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=32, feat_dim=8)))
    opt = torch.optim.Adam(net.parameters())
    state = {"format": "dacon-engine-train", "step": 3, "config": net.config.to_dict(),
             "state_dict": net.head_state_dict(), "optimizer": opt.state_dict()}
    ck = tmp_path / "last.pt"
    torch.save(state, ck)
    f = build_featurizer(ck, device="cpu")
    assert f.net.config.unet_input == 32 and f.dim == 8


def test_list_models_with_explicit_dinov2(tmp_path):
    dino = tiny_dino_file(tmp_path)
    zs = [m for m in list_models(dinov2_weights=dino) if m["name"] == "zeroshot-dinov2"][0]
    assert zs["available"] is True


def test_late_head_equals_full_map(frames):
    """Pooling the pre-final U-Net map and applying final_conv afterwards (the featurizer's
    fast path) equals pooling the full feat_dim map."""
    from dacon_engine.model.pooling import plan_pooling

    net = tiny_unet_net()
    for f in frames:
        inp = net.prepare(line_to_rgb01(f.line).unsqueeze(0))
        plan = plan_pooling(f.labels, f.n_segments, 16)
        with torch.no_grad():
            full = net.segment_features(net.feature_maps(inp), 0, plan)
            late = net.segment_features(net.feature_maps(inp, late_head=True), 0, plan)
        assert torch.allclose(full, late, atol=1e-5)


def test_small_frames_run_at_the_small_frame_input():
    c = DaconConfig(mode="unet", unet_input=512, small_frame_input=384)
    assert [c.unet_size(h, w) for h, w in ((1920, 1080), (512, 300), (511, 511), (96, 96))] \
        == [512, 512, 384, 384]
    assert DaconConfig(mode="unet", unet_input=512).unet_size(96, 96) == 512
    assert DaconConfig.from_dict(c.to_dict()) == c
    for bad in (600, 100, 0):
        with pytest.raises(ValueError, match=f"small_frame_input {bad}"):
            DaconConfig.from_dict({**c.to_dict(), "small_frame_input": bad})
    with pytest.raises(ValueError, match="unet_input 500 must be a multiple of 16"):
        DaconConfig.from_dict({**c.to_dict(), "unet_input": 500, "small_frame_input": None})


def test_frames_of_different_sizes_batch_like_one_at_a_time():
    """Frames under unet_input get another network input: in one batch each must get
    the features it gets alone, in order."""
    net = randomize(DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64,
                                         small_frame_input=32, feat_dim=16)))
    rng = np.random.default_rng(3)
    frames = [make_frame(rng, 48, 48, 5), make_frame(rng, 64, 60, 9), make_frame(rng, 44, 48, 4),
              make_frame(rng, 90, 80, 6)]
    sizes = [net.prepare(torch.zeros(1, 3, *f.labels.shape))["unet"].shape[-1] for f in frames]
    assert sizes == [32, 64, 32, 64]
    alone = [DaconFeaturizer(net, "cpu", batch_size=1).segment_features([f])[0] for f in frames]
    batched = DaconFeaturizer(net, "cpu", batch_size=4).segment_features(frames)
    for f, x, y in zip(frames, alone, batched):
        assert y.shape == (f.n_segments, 16)
        assert torch.allclose(x, y, atol=1e-5)
    assert "U-Net base 4 @ 64 (32 under 64 px)" in DaconFeaturizer(net, "cpu").name
