"""Reading weight files and loading them STRICTLY with explicit key maps.

DINOv2 weights are accepted in three formats, detected from the keys:

* ``meta``  - Meta's ``dinov2_vit{s,b,l,g}14{_reg4,}_pretrain.pth``: ``cls_token``,
  ``pos_embed`` (1, 1+g*g, C), ``mask_token`` (unused), ``register_tokens`` (reg4),
  ``patch_embed.proj.*``, ``blocks.N.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,
  mlp.fc2,ls2.gamma}.*`` (ViT-g: ``mlp.w12`` / ``mlp.w3`` SwiGLU), ``norm.*``.
* ``hf``    - Hugging Face ``facebook/dinov2-*`` (a folder with config.json + model.safetensors
  or pytorch_model.bin, or a bare .safetensors file), with or without a ``dinov2.`` prefix:
  ``embeddings.{cls_token,mask_token,position_embeddings,register_tokens}``,
  ``embeddings.patch_embeddings.projection.*``, ``encoder.layer.N.{norm1,norm2,
  attention.attention.{query,key,value},attention.output.dense,layer_scale1.lambda1,
  layer_scale2.lambda1,mlp.fc1,mlp.fc2 | mlp.weights_in,mlp.weights_out}.*``, ``layernorm.*``.
  q, k and v are concatenated into timm's ``attn.qkv``.
* ``timm``  - timm's own keys (``reg_token`` for registers).

With registers, timm's DINOv2 models use ``no_embed_class``: the cls position embedding is
folded into ``cls_token`` and ``pos_embed`` keeps only the patch positions (this is what
timm's own ``_convert_dinov2`` does; the result is mathematically the same network).

The model size (embed dim, depth, registers, patch, grid, MLP width, SwiGLU) is inferred
from the tensor shapes; the head count from config.json, else the standard DINOv2 sizes,
else embed_dim // 64.

Loading is strict: a missing or unexpected key or a wrong shape raises DaconError naming
the file and the key (in the file's own naming).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import torch
from torch import nn

from ..errors import DaconError
from .backbone import DINOV2_VARIANTS, DinoBackbone, build_vit

ENV_DINOV2 = "DACON_DINOV2_WEIGHTS"

DINOV2_HOWTO = (
    "DINOv2 weights are needed and are never downloaded by this program: on a machine with "
    "internet, download dinov2_vitl14_pretrain.pth from Meta's DINOv2 release "
    "(https://github.com/facebookresearch/dinov2) or the facebook/dinov2-large folder from "
    "Hugging Face (config.json + model.safetensors), copy it to this machine, and set "
    f"{ENV_DINOV2}=<path> (or pass --dinov2-weights)"
)

_HEADS_BY_DIM = {v[1]: v[3] for v in DINOV2_VARIANTS.values()}


# ----------------------------------------------------------------------------- reading files
def _torch_load(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling / zip error
        first = str(e).split(". ")[0].strip()  # torch's messages run for paragraphs
        raise DaconError(path, f"cannot read as a PyTorch weights file "
                               f"({type(e).__name__}: {first})") from None


def _safetensors_load(path: Path) -> dict:
    try:
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    except Exception as e:  # noqa: BLE001
        raise DaconError(path, f"cannot read as a safetensors file ({type(e).__name__}: {e})") from None


def _unwrap(obj: object, path: Path) -> tuple[dict, dict]:
    """A loaded object -> (tensor state dict, metadata). Accepts a bare state dict or a dict
    holding one under model_state_dict / state_dict / model."""
    meta: dict = {}
    if isinstance(obj, dict) and str(obj.get("format", "")).startswith("dacon-engine"):
        # our checkpoints ("dacon-engine") and training states ("dacon-engine-train")
        meta = {"format": "dacon-engine", "config": dict(obj.get("config") or {})}
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for k in ("model_state_dict", "state_dict", "model"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict) or not obj:
        raise DaconError(path, "holds no state dict (expected a dict of tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise DaconError(path, f"entry {bad[0]!r} is not a tensor; not a state dict")
    return {str(k): v for k, v in obj.items()}, meta


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a weights file or HF folder -> (state dict on CPU, metadata).

    metadata may hold "config" (HF config.json or our own checkpoint's config) and "format"."""
    p = Path(path)
    if p.is_dir():
        cfg = {}
        if (p / "config.json").is_file():
            try:
                cfg = json.loads((p / "config.json").read_text())
            except (OSError, ValueError) as e:
                raise DaconError(p / "config.json", f"cannot read JSON ({e})") from None
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (p / name).is_file():
                sd, meta = read_state_dict(p / name)
                meta.setdefault("config", cfg)
                return sd, meta
        raise DaconError(p, "folder holds no model.safetensors or pytorch_model.bin")
    if not p.is_file():
        raise DaconError(p, "no such weights file")
    if p.suffix == ".safetensors":
        return _unwrap(_safetensors_load(p), p)
    return _unwrap(_torch_load(p), p)


# ----------------------------------------------------------------------------- strict loading
def load_strict(module: nn.Module, sd: dict[str, torch.Tensor], path: str | os.PathLike | None,
                rename=lambda k: k, skip_prefix: str | None = None) -> None:
    """load_state_dict(strict=True) with one-line DaconErrors naming the file and the key.

    ``rename`` maps a module key back to the file's own naming, for messages;
    module keys under ``skip_prefix`` (e.g. a frozen backbone) are neither expected nor loaded."""
    want = {k: v for k, v in module.state_dict().items()
            if not (skip_prefix and k.startswith(skip_prefix))}
    for k in want:
        if k not in sd:
            raise DaconError(path, f"missing key {rename(k)!r}")
    for k in sd:
        if k not in want:
            raise DaconError(path, f"unexpected key {rename(k)!r}")
    for k, v in want.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise DaconError(path, f"key {rename(k)!r} has shape {tuple(sd[k].shape)}, "
                                   f"expected {tuple(v.shape)}")
    res = module.load_state_dict({k: sd[k].to(want[k].dtype) for k in want}, strict=False)
    left = [k for k in res.missing_keys if not (skip_prefix and k.startswith(skip_prefix))]
    if left or res.unexpected_keys:  # cannot happen after the checks above
        raise DaconError(path, f"key mismatch {left or res.unexpected_keys}")


# ----------------------------------------------------------------------------- DINOv2 key maps
_BLOCK_SAME = ("norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
               "attn.proj.weight", "attn.proj.bias", "ls1.gamma", "norm2.weight", "norm2.bias",
               "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias", "ls2.gamma")
_META_RENAME = {"mlp.w12.weight": "mlp.fc1.weight", "mlp.w12.bias": "mlp.fc1.bias",
                "mlp.w3.weight": "mlp.fc2.weight", "mlp.w3.bias": "mlp.fc2.bias"}
_TOP_SAME = ("cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
             "norm.weight", "norm.bias")
_BLOCK_RE = re.compile(r"blocks\.(\d+)\.(.+)")

_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.register_tokens": "reg_token",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_BLOCK = {
    "norm1.weight": "norm1.weight", "norm1.bias": "norm1.bias",
    "norm2.weight": "norm2.weight", "norm2.bias": "norm2.bias",
    "attention.output.dense.weight": "attn.proj.weight",
    "attention.output.dense.bias": "attn.proj.bias",
    "layer_scale1.lambda1": "ls1.gamma", "layer_scale2.lambda1": "ls2.gamma",
    "mlp.fc1.weight": "mlp.fc1.weight", "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.weight": "mlp.fc2.weight", "mlp.fc2.bias": "mlp.fc2.bias",
    "mlp.weights_in.weight": "mlp.fc1.weight", "mlp.weights_in.bias": "mlp.fc1.bias",
    "mlp.weights_out.weight": "mlp.fc2.weight", "mlp.weights_out.bias": "mlp.fc2.bias",
}
_HF_BLOCK_RE = re.compile(r"encoder\.layer\.(\d+)\.(.+)")
_QKV = ("query", "key", "value")


def detect_dinov2_format(sd: dict) -> str:
    keys = list(sd)
    if any(k.startswith(("embeddings.", "dinov2.embeddings.", "encoder.layer.", "dinov2.encoder."))
           for k in keys):
        return "hf"
    if "mask_token" in sd or "register_tokens" in sd or any(".mlp.w12." in k for k in keys):
        return "meta"
    if "cls_token" in sd or "patch_embed.proj.weight" in sd:
        return "timm"
    raise ValueError("not a DINOv2 state dict (no cls_token / patch_embed / embeddings.* keys)")


def _fold_registers(out: dict, regs: torch.Tensor) -> None:
    """Meta/HF register layout -> timm no_embed_class layout."""
    out["reg_token"] = regs
    pos = out["pos_embed"]
    out["cls_token"] = out["cls_token"] + pos[:, :1]
    out["pos_embed"] = pos[:, 1:]


def meta_to_timm(sd: dict, path=None) -> tuple[dict, dict]:
    """Meta DINOv2 keys -> timm keys. Returns (timm state dict, timm key -> Meta key)."""
    out, origin = {}, {}
    regs = None
    for k, v in sd.items():
        if k == "mask_token":
            continue
        if k == "register_tokens":
            regs = v
            continue
        if k in _TOP_SAME:
            out[k], origin[k] = v, k
            continue
        m = _BLOCK_RE.fullmatch(k)
        if m and (m.group(2) in _BLOCK_SAME or m.group(2) in _META_RENAME):
            t = f"blocks.{m.group(1)}.{_META_RENAME.get(m.group(2), m.group(2))}"
            out[t], origin[t] = v, k
            continue
        raise DaconError(path, f"unexpected key {k!r} in a Meta DINOv2 checkpoint")
    if regs is not None:
        if "cls_token" not in out or "pos_embed" not in out:
            raise DaconError(path, f"missing key {'cls_token' if 'cls_token' not in out else 'pos_embed'!r}")
        _fold_registers(out, regs)
        origin["reg_token"] = "register_tokens"
    return out, origin


def hf_to_timm(sd: dict, path=None) -> tuple[dict, dict]:
    """Hugging Face Dinov2Model keys -> timm keys. Returns (timm state dict, timm key -> HF key)."""
    if any(k.startswith("dinov2.") for k in sd):
        pre = "dinov2."
        for k in sd:
            if not k.startswith(pre):
                raise DaconError(path, f"unexpected key {k!r} (only the dinov2.* backbone is used)")
    else:
        pre = ""
    out, origin = {}, {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    regs = None
    for full, v in sd.items():
        k = full[len(pre):]
        if k == "embeddings.mask_token":
            continue
        if k == "embeddings.register_tokens":
            regs = v
            continue
        if k in _HF_TOP:
            t = _HF_TOP[k]
            out[t], origin[t] = v, full
            continue
        m = _HF_BLOCK_RE.fullmatch(k)
        if m:
            n, rest = m.group(1), m.group(2)
            if rest in _HF_BLOCK:
                t = f"blocks.{n}.{_HF_BLOCK[rest]}"
                out[t], origin[t] = v, full
                continue
            mq = re.fullmatch(r"attention\.attention\.(query|key|value)\.(weight|bias)", rest)
            if mq:
                qkv.setdefault((n, mq.group(2)), {})[mq.group(1)] = v
                continue
        raise DaconError(path, f"unexpected key {full!r} in a Hugging Face DINOv2 checkpoint")
    for (n, kind), parts in sorted(qkv.items()):
        for name in _QKV:
            if name not in parts:
                raise DaconError(path, f"missing key '{pre}encoder.layer.{n}.attention.attention.{name}.{kind}'")
        t = f"blocks.{n}.attn.qkv.{kind}"
        out[t] = torch.cat([parts[q] for q in _QKV], 0)
        origin[t] = f"{pre}encoder.layer.{n}.attention.attention.query.{kind}"
    if regs is not None:
        if "cls_token" not in out or "pos_embed" not in out:
            raise DaconError(path, "missing key 'embeddings.cls_token' or 'embeddings.position_embeddings'")
        _fold_registers(out, regs)
        origin["reg_token"] = pre + "embeddings.register_tokens"
    return out, origin


def _name_in(fmt: str, tkey: str, prefix: str = "") -> str:
    """A timm key in the file's own naming (for messages about keys the file lacks)."""
    if fmt == "timm":
        return tkey
    if fmt == "meta":
        return {"reg_token": "register_tokens"}.get(tkey, tkey)
    inv_top = {v: k for k, v in _HF_TOP.items()}
    if tkey in inv_top:
        return prefix + inv_top[tkey]
    m = _BLOCK_RE.fullmatch(tkey)
    if m:
        rest = m.group(2)
        if rest.startswith("attn.qkv."):
            return f"{prefix}encoder.layer.{m.group(1)}.attention.attention.query.{rest.split('.')[-1]}"
        inv = {}
        for a, b in _HF_BLOCK.items():
            inv.setdefault(b, a)
        return f"{prefix}encoder.layer.{m.group(1)}.{inv.get(rest, rest)}"
    return tkey


def infer_vit_arch(tsd: dict, num_heads: int | None = None, config: dict | None = None,
                   path=None) -> dict:
    """Architecture of a timm-keyed DINOv2 state dict, from its shapes."""
    for k in ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.mlp.fc1.weight",
              "blocks.0.mlp.fc2.weight"):
        if k not in tsd:
            raise DaconError(path, f"missing key {k!r} (cannot infer the model size)")
    dim = int(tsd["cls_token"].shape[-1])
    depth = 1 + max(int(m.group(1)) for k in tsd if (m := _BLOCK_RE.fullmatch(k)))
    patch = int(tsd["patch_embed.proj.weight"].shape[-1])
    regs = int(tsd["reg_token"].shape[1]) if "reg_token" in tsd else 0
    n_pos = int(tsd["pos_embed"].shape[1]) - (0 if regs else 1)
    grid = math.isqrt(n_pos)
    if grid * grid != n_pos:
        raise DaconError(path, f"pos_embed holds {n_pos} patch positions, not a square grid")
    hidden = int(tsd["blocks.0.mlp.fc1.weight"].shape[0])
    swiglu = int(tsd["blocks.0.mlp.fc2.weight"].shape[1]) * 2 == hidden
    cfg = config or {}
    heads = num_heads or cfg.get("num_attention_heads") or _HEADS_BY_DIM.get(dim) or max(1, dim // 64)
    return dict(embed_dim=dim, depth=depth, num_heads=int(heads), patch_size=patch,
                img_size=grid * patch, reg_tokens=regs, mlp_hidden=hidden, swiglu=swiglu)


def resolve_dinov2_path(path: str | os.PathLike | None) -> Path:
    p = path if path is not None else os.environ.get(ENV_DINOV2) or None
    if p is None:
        raise DaconError(None, f"no DINOv2 weights given. {DINOV2_HOWTO}")
    p = Path(p).expanduser()
    if not p.exists():
        raise DaconError(p, f"DINOv2 weights not found. {DINOV2_HOWTO}")
    return p


def load_dinov2(path: str | os.PathLike | None = None, *, norm: str = "imagenet",
                num_heads: int | None = None) -> DinoBackbone:
    """Build a frozen DinoBackbone from a weights file (arg, else $DACON_DINOV2_WEIGHTS).

    The format (meta / hf / timm) and size are detected from the file."""
    p = resolve_dinov2_path(path)
    sd, meta = read_state_dict(p)
    try:
        fmt = detect_dinov2_format(sd)
    except ValueError as e:
        raise DaconError(p, str(e)) from None
    if fmt == "meta":
        tsd, origin = meta_to_timm(sd, p)
    elif fmt == "hf":
        tsd, origin = hf_to_timm(sd, p)
    else:
        tsd, origin = dict(sd), {k: k for k in sd}
    prefix = "dinov2." if fmt == "hf" and any(k.startswith("dinov2.") for k in sd) else ""
    arch = infer_vit_arch(tsd, num_heads, meta.get("config"), p)
    vit = build_vit(**arch)
    load_strict(vit, tsd, p, rename=lambda k: origin.get(k) or _name_in(fmt, k, prefix))
    bb = DinoBackbone(vit, norm=norm)
    bb.source = f"{p} ({fmt}, {arch['embed_dim']}-d x {arch['depth']}" + (
        f", {arch['reg_tokens']} registers)" if arch["reg_tokens"] else ")")
    return bb
