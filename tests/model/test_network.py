"""U-Net / DaconNet: official key names and shapes, strict checkpoint loading, fusion."""

import pytest
import torch
import torch.nn.functional as F

from dacon_engine.errors import DaconError
from dacon_engine.model.backbone import DinoBackbone, build_vit
from dacon_engine.model.network import DaconConfig, DaconNet, config_from_state_dict
from dacon_engine.model.registry import load_net
from dacon_engine.model.unet import UNet


def official_keys(version):
    """Expected key -> shape of an official DACoN checkpoint (full width 64), from the
    reference's architecture description (not from our module)."""
    out = {}
    chans = [3, 64, 128, 256, 512]
    for i in range(4):
        ci, co = chans[i], chans[i + 1]
        out[f"unet.encoder_blocks.{i}.conv.0.weight"] = (co, ci, 3, 3)
        out[f"unet.encoder_blocks.{i}.conv.3.weight"] = (co, co, 3, 3)
        for j in (0, 3):
            out[f"unet.encoder_blocks.{i}.conv.{j}.bias"] = (co,)
    out["unet.bottleneck.conv.0.weight"] = (1024, 512, 3, 3)
    out["unet.bottleneck.conv.3.weight"] = (1024, 1024, 3, 3)
    out["unet.bottleneck.conv.0.bias"] = out["unet.bottleneck.conv.3.bias"] = (1024,)
    for i, c in enumerate([512, 256, 128, 64]):
        out[f"unet.decoder_up_convs.{i}.up.1.weight"] = (c, 2 * c, 3, 3)
        out[f"unet.decoder_up_convs.{i}.up.1.bias"] = (c,)
        out[f"unet.decoder_conv_blocks.{i}.conv.0.weight"] = (c, 2 * c, 3, 3)
        out[f"unet.decoder_conv_blocks.{i}.conv.3.weight"] = (c, c, 3, 3)
        out[f"unet.decoder_conv_blocks.{i}.conv.0.bias"] = (c,)
        out[f"unet.decoder_conv_blocks.{i}.conv.3.bias"] = (c,)
    out["unet.final_conv.weight"] = (128, 64, 1, 1)
    out["unet.final_conv.bias"] = (128,)
    out["dino_mlp.fc1.weight"], out["dino_mlp.fc1.bias"] = (512, 1024), (512,)
    out["dino_mlp.fc2.weight"], out["dino_mlp.fc2.bias"] = (128, 512), (128,)
    if version == "v1.0":
        out["dino_unet_mlp.fc1.weight"], out["dino_unet_mlp.fc1.bias"] = (512, 256), (512,)
        out["dino_unet_mlp.fc2.weight"], out["dino_unet_mlp.fc2.bias"] = (128, 512), (128,)
    return out


def meta_backbone(dim=1024):
    with torch.device("meta"):
        return DinoBackbone(build_vit(dim, 1, 16, img_size=28))


@pytest.mark.parametrize("version,n_params", [("v1.1", 35_112_064), ("v1.0", 35_309_312)])
def test_full_width_official_keys(version, n_params):
    with torch.device("meta"):
        net = DaconNet(DaconConfig(mode=version), meta_backbone())
    got = {k: tuple(v.shape) for k, v in net.head_state_dict().items()}
    assert got == official_keys(version)
    assert sum(v.numel() for v in net.head_state_dict().values()) == n_params
    assert not any(k.startswith("dino.") for k in got)
    cfg = config_from_state_dict(net.head_state_dict())
    assert (cfg.mode, cfg.unet_base, cfg.unet_depth, cfg.feat_dim, cfg.dino_dim) == (version, 64, 4, 128, 1024)


def test_unet_shapes_and_norms():
    u = UNet(base=4, out_ch=8)
    y = u(torch.rand(2, 3, 64, 64))
    assert y.shape == (2, 8, 64, 64)
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) and not m.affine for m in u.modules()) == 2 * 9 + 4
    with pytest.raises(ValueError):
        u(torch.rand(1, 3, 40, 40))
    assert UNet(base=4, depth=2)(torch.rand(1, 3, 20, 20)).shape == (1, 128, 20, 20)


def tiny_dino_file(tmp_path, dim=32):
    torch.manual_seed(0)
    vit = build_vit(dim, 2, 1, img_size=56)  # 1 head = what the loader infers for < 64-d
    with torch.no_grad():
        for p in vit.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    path = tmp_path / "dino_tiny.pth"
    torch.save(vit.state_dict(), path)
    return path


def tiny_net(version, dino_path, base=4):
    from dacon_engine.model.weights import load_dinov2
    bb = load_dinov2(dino_path, norm="raw01")
    torch.manual_seed(1)
    net = DaconNet(DaconConfig(mode=version, unet_base=base, unet_input=64, dino_dim=32), bb)
    with torch.no_grad():
        for k, p in net.named_parameters():
            if not k.startswith("dino."):
                p.copy_(torch.randn_like(p) * 0.3)
    return net.eval()


def maps_and_out(net, x):
    with torch.no_grad():
        maps = net.feature_maps(net.prepare(x))
    d = maps["dino"].mean((2, 3))
    u = maps["unet"].mean((2, 3))
    return d, u, net.fuse(d, u)


def test_fusion_math(tmp_path):
    p = tiny_dino_file(tmp_path)
    x = torch.rand(1, 3, 50, 60)
    n11 = tiny_net("v1.1", p)
    d, u, out = maps_and_out(n11, x)
    want = F.normalize(n11.dino_mlp(d), dim=-1, eps=1e-6) + F.normalize(u, dim=-1, eps=1e-6)
    assert torch.allclose(out, want)
    n10 = tiny_net("v1.0", p)
    d, u, out = maps_and_out(n10, x)
    want = n10.dino_unet_mlp(torch.cat([n10.dino_mlp(d), u], -1))  # order [dino, unet]
    assert torch.allclose(out, want)


@pytest.mark.parametrize("version", ["v1.1", "v1.0"])
@pytest.mark.parametrize("wrapped", [False, True])
def test_official_checkpoint_roundtrip(tmp_path, monkeypatch, version, wrapped):
    dino = tiny_dino_file(tmp_path)
    net = tiny_net(version, dino)
    sd = net.head_state_dict()
    obj = {"epoch": 5, "model_state_dict": sd, "loss": 0.1} if wrapped else sd
    ck = tmp_path / "dacon_v1_x.pth"
    torch.save(obj, ck)
    loaded = load_net(ck, dinov2_weights=dino)
    assert loaded.config.mode == version
    assert loaded.config.dino_norm == "raw01"
    loaded.config.unet_input = 64  # inferred config uses 512; compare at the same size
    for k, v in sd.items():
        assert torch.equal(loaded.head_state_dict()[k], v)
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(maps_and_out(loaded, x)[2], maps_and_out(net, x)[2], atol=1e-6)


@pytest.mark.parametrize("edit,msg", [
    (lambda sd: sd.pop("dino_mlp.fc2.bias"), r"missing key 'dino_mlp\.fc2\.bias'"),
    (lambda sd: sd.__setitem__("dino.cls_token", torch.zeros(1, 1, 32)), r"unexpected key 'dino\.cls_token'"),
    (lambda sd: sd.__setitem__("unet.final_conv.bias", torch.zeros(7)),
     r"key 'unet\.final_conv\.bias' has shape \(7,\), expected \(128,\)"),
])
def test_official_checkpoint_strict(tmp_path, edit, msg):
    dino = tiny_dino_file(tmp_path)
    sd = dict(tiny_net("v1.1", dino).head_state_dict())
    edit(sd)
    ck = tmp_path / "dacon_v1_1.pth"
    torch.save(sd, ck)
    with pytest.raises(DaconError, match=r"dacon_v1_1\.pth: " + msg):
        load_net(ck, dinov2_weights=dino)


def test_dino_size_mismatch(tmp_path):
    dino = tiny_dino_file(tmp_path)
    sd = tiny_net("v1.1", dino).head_state_dict()
    ck = tmp_path / "ck.pth"
    torch.save(sd, ck)
    d48 = tmp_path / "d48"
    d48.mkdir()
    with pytest.raises(DaconError, match=r"48-d but ck\.pth was trained on 32-d"):
        load_net(ck, dinov2_weights=tiny_dino_file(d48, dim=48))


def test_unet_only_mode_has_no_dino():
    net = DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=32, feat_dim=16))
    assert net.dino is None and set(net.prepare(torch.rand(1, 3, 10, 10))) == {"unet"}
    assert all(k.startswith("unet.") for k in net.head_state_dict())
    with pytest.raises(ValueError):
        DaconNet(DaconConfig(mode="v1.1"))  # needs a backbone


@pytest.mark.parametrize("norm", ["imagenet", "raw01"])
def test_input_spec_prepares_what_the_network_prepares_without_it(norm):
    """A stage worker prepares frames from ``net.input_spec`` alone (pickled, no weights):
    the same inputs as the network, DINOv2's normalised with ImageNet's mean and std."""
    import pickle

    vit = build_vit(img_size=56, patch_size=14, embed_dim=32, depth=1, num_heads=2)
    cfg = DaconConfig(mode="v1.1", unet_base=4, unet_input=64, dino_dim=32, dino_norm=norm,
                      coord_input=True, antialias=True, line_widen=0.5)
    net = DaconNet(cfg, DinoBackbone(vit, norm=norm))
    spec = pickle.loads(pickle.dumps(net.input_spec))
    x = torch.rand(1, 3, 100, 90, generator=torch.Generator().manual_seed(1))
    a, b = net.prepare(x), spec.prepare(x)
    assert a.keys() == b.keys() == {"dino", "unet"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert b["unet"].shape == (1, 5, 64, 64) and b["dino"].shape == (1, 3, 56, 56)
    plain = F.interpolate(x, size=(56, 56), mode="bilinear", align_corners=False)
    if norm == "imagenet":
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        plain = (plain - mean) / std
    torch.testing.assert_close(b["dino"], plain)
    assert spec.widen_window(1920, 1920) == net.widen_window(1920, 1920) == 15
