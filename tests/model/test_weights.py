"""DINOv2 weight loading: Meta / Hugging Face / timm formats, strictness, messages.

State dicts in each format are produced FROM a tiny timm model with test-side inverse
key maps, saved, and loaded back through the loader into a fresh model."""

import json

import pytest
import torch
from safetensors.torch import save_file

from dacon_engine.errors import DaconError
from dacon_engine.model.backbone import DINOV2_VARIANTS, build_dinov2, build_vit
from dacon_engine.model.weights import ENV_DINOV2, detect_dinov2_format, infer_vit_arch, load_dinov2

DIM, DEPTH, HEADS, IMG = 32, 2, 2, 56  # 4x4 patch grid


def tiny_vit(regs=0, swiglu=False, seed=0):
    torch.manual_seed(seed)
    vit = build_vit(DIM, DEPTH, HEADS, img_size=IMG, reg_tokens=regs,
                    mlp_hidden=128 if swiglu else None, swiglu=swiglu)
    with torch.no_grad():  # layer scale starts at 1e-5: randomise everything so blocks matter
        for p in vit.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return vit.eval()


def to_meta(tsd, swiglu):
    out = {}
    regs = "reg_token" in tsd
    for k, v in tsd.items():
        if k == "reg_token":
            out["register_tokens"] = v
        elif swiglu and ".mlp.fc1." in k:
            out[k.replace(".mlp.fc1.", ".mlp.w12.")] = v
        elif swiglu and ".mlp.fc2." in k:
            out[k.replace(".mlp.fc2.", ".mlp.w3.")] = v
        else:
            out[k] = v
    if regs:  # Meta keeps the cls position in pos_embed; timm folds it into cls_token
        p0 = torch.randn(1, 1, DIM)
        out["pos_embed"] = torch.cat([p0, tsd["pos_embed"]], 1)
        out["cls_token"] = tsd["cls_token"] - p0
    out["mask_token"] = torch.zeros(1, DIM)
    return out


def to_hf(tsd, swiglu, prefix=""):
    out = {}
    regs = "reg_token" in tsd
    top = {"cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
           "reg_token": "embeddings.register_tokens",
           "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
           "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
           "norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias"}
    blk = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.output.dense",
           "mlp.fc1": "mlp.weights_in" if swiglu else "mlp.fc1",
           "mlp.fc2": "mlp.weights_out" if swiglu else "mlp.fc2"}
    for k, v in tsd.items():
        if k in top:
            out[top[k]] = v
            continue
        _, n, rest = k.split(".", 2)
        base, kind = rest.rsplit(".", 1)
        L = f"encoder.layer.{n}."
        if base == "attn.qkv":
            for name, part in zip(("query", "key", "value"), v.chunk(3, 0)):
                out[f"{L}attention.attention.{name}.{kind}"] = part.clone()
        elif rest == "ls1.gamma":
            out[L + "layer_scale1.lambda1"] = v
        elif rest == "ls2.gamma":
            out[L + "layer_scale2.lambda1"] = v
        else:
            out[f"{L}{blk[base]}.{kind}"] = v
    if regs:
        p0 = torch.randn(1, 1, DIM)
        out["embeddings.position_embeddings"] = torch.cat([p0, tsd["pos_embed"]], 1)
        out["embeddings.cls_token"] = tsd["cls_token"] - p0
    out["embeddings.mask_token"] = torch.zeros(1, DIM)
    return {prefix + k: v.contiguous() for k, v in out.items()}


def features(vit_or_bb, x):
    from dacon_engine.model.backbone import DinoBackbone
    bb = vit_or_bb if isinstance(vit_or_bb, DinoBackbone) else DinoBackbone(vit_or_bb)
    with torch.no_grad():
        return bb(x)


X = torch.rand(2, 3, 70, 50)


@pytest.mark.parametrize("regs", [0, 4])
@pytest.mark.parametrize("swiglu", [False, True])
@pytest.mark.parametrize("fmt", ["meta", "hf", "hf-prefix", "hf-folder", "timm"])
def test_roundtrip_formats(tmp_path, fmt, regs, swiglu):
    vit = tiny_vit(regs, swiglu)
    tsd = vit.state_dict()
    if fmt == "meta":
        path = tmp_path / "dinov2_vits14_pretrain.pth"
        torch.save(to_meta(tsd, swiglu), path)
    elif fmt == "timm":
        path = tmp_path / "timm.pth"
        torch.save(tsd, path)
    elif fmt == "hf-folder":
        path = tmp_path / "dinov2-tiny"
        path.mkdir()
        save_file(to_hf(tsd, swiglu), str(path / "model.safetensors"))
        (path / "config.json").write_text(json.dumps({"num_attention_heads": HEADS}))
    else:
        path = tmp_path / "model.safetensors"
        save_file(to_hf(tsd, swiglu, "dinov2." if fmt == "hf-prefix" else ""), str(path))
    bb = load_dinov2(path, num_heads=None if fmt == "hf-folder" else HEADS)
    arch = infer_vit_arch(bb.vit.state_dict())
    assert (arch["embed_dim"], arch["depth"], arch["reg_tokens"], arch["img_size"], arch["swiglu"]) == (
        DIM, DEPTH, regs, IMG, swiglu)
    assert bb.vit.num_prefix_tokens == 1 + regs
    assert all(not p.requires_grad for p in bb.parameters())
    got, want = features(bb, X), features(vit, X)
    assert got.shape == (2, DIM, 4, 4)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_detect_format():
    tsd = tiny_vit().state_dict()
    assert detect_dinov2_format(tsd) == "timm"
    assert detect_dinov2_format(to_meta(tsd, False)) == "meta"
    assert detect_dinov2_format(to_hf(tsd, False)) == "hf"
    assert detect_dinov2_format(to_hf(tsd, False, "dinov2.")) == "hf"


def _save_meta(tmp_path, sd):
    p = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(sd, p)
    return p


def test_meta_missing_key(tmp_path):
    sd = to_meta(tiny_vit().state_dict(), False)
    del sd["blocks.1.norm2.weight"]
    with pytest.raises(DaconError, match=r"pretrain\.pth: missing key 'blocks\.1\.norm2\.weight'"):
        load_dinov2(_save_meta(tmp_path, sd), num_heads=HEADS)


def test_meta_unexpected_key(tmp_path):
    sd = to_meta(tiny_vit().state_dict(), False)
    sd["blocks.0.attn.extra"] = torch.zeros(3)
    with pytest.raises(DaconError, match=r"pretrain\.pth: unexpected key 'blocks\.0\.attn\.extra'"):
        load_dinov2(_save_meta(tmp_path, sd), num_heads=HEADS)


def test_meta_wrong_shape(tmp_path):
    sd = to_meta(tiny_vit().state_dict(), False)
    sd["blocks.1.ls2.gamma"] = torch.zeros(DIM + 1)
    with pytest.raises(DaconError, match=r"'blocks\.1\.ls2\.gamma' has shape \(33,\), expected \(32,\)"):
        load_dinov2(_save_meta(tmp_path, sd), num_heads=HEADS)


def test_hf_errors_use_hf_names(tmp_path):
    base = to_hf(tiny_vit().state_dict(), False)
    p = tmp_path / "model.safetensors"
    sd = dict(base)
    del sd["encoder.layer.1.attention.attention.value.bias"]
    save_file(sd, str(p))
    with pytest.raises(DaconError, match=r"missing key 'encoder\.layer\.1\.attention\.attention\.value\.bias'"):
        load_dinov2(p, num_heads=HEADS)
    sd = dict(base)
    del sd["layernorm.weight"]
    save_file(sd, str(p))
    with pytest.raises(DaconError, match=r"model\.safetensors: missing key 'layernorm\.weight'"):
        load_dinov2(p, num_heads=HEADS)
    sd = dict(base)
    sd["encoder.layer.0.layer_scale1.lambda1"] = torch.zeros(5)
    save_file(sd, str(p))
    with pytest.raises(DaconError, match=r"'encoder\.layer\.0\.layer_scale1\.lambda1' has shape \(5,\)"):
        load_dinov2(p, num_heads=HEADS)
    sd = dict(base)
    sd["pooler.dense.weight"] = torch.zeros(2, 2)
    save_file(sd, str(p))
    with pytest.raises(DaconError, match=r"unexpected key 'pooler\.dense\.weight'"):
        load_dinov2(p, num_heads=HEADS)


def test_timm_unexpected_key(tmp_path):
    sd = tiny_vit().state_dict()
    sd["head.weight"] = torch.zeros(10, DIM)
    p = tmp_path / "timm.pth"
    torch.save(sd, p)
    with pytest.raises(DaconError, match=r"timm\.pth: unexpected key 'head\.weight'"):
        load_dinov2(p, num_heads=HEADS)


def test_missing_weights_explain_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_DINOV2, raising=False)
    with pytest.raises(DaconError, match=r"dinov2_vitl14_pretrain\.pth.*facebook/dinov2-large.*DACON_DINOV2_WEIGHTS"):
        load_dinov2()
    monkeypatch.setenv(ENV_DINOV2, str(tmp_path / "nope.pth"))
    with pytest.raises(DaconError, match=r"nope\.pth: DINOv2 weights not found"):
        load_dinov2()


def test_env_var_and_garbage_file(tmp_path, monkeypatch):
    p = tmp_path / "timm.pth"
    torch.save(tiny_vit().state_dict(), p)
    monkeypatch.setenv(ENV_DINOV2, str(p))
    assert load_dinov2(num_heads=HEADS).embed_dim == DIM
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DaconError, match=r"bad\.pth: cannot read"):
        load_dinov2(bad)


@pytest.mark.parametrize("variant", sorted(DINOV2_VARIANTS))
@pytest.mark.parametrize("regs", [False, True])
def test_timm_variants_match_inferred_arch(variant, regs):
    """timm's registered DINOv2 models (built on the meta device: no memory, no download)
    have exactly the keys/shapes of the model we infer from their own state dict."""
    with torch.device("meta"):
        ref = build_dinov2(variant, regs)
        arch = infer_vit_arch(ref.state_dict())
        ours = build_vit(**arch)
    _, dim, depth, heads = DINOV2_VARIANTS[variant]
    assert (arch["embed_dim"], arch["depth"], arch["num_heads"], arch["img_size"]) == (dim, depth, heads, 518)
    assert arch["reg_tokens"] == (4 if regs else 0)
    assert {k: v.shape for k, v in ref.state_dict().items()} == {k: v.shape for k, v in ours.state_dict().items()}
    assert ref.num_prefix_tokens == ours.num_prefix_tokens == 1 + arch["reg_tokens"]
