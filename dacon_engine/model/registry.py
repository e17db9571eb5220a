"""Named models -> featurizers (like timm / segment-anything registries).

Names (``list_models()`` reports which are available here):

    default          the small U-Net-only model shipped in dacon_engine/weights/default.pt
    dacon-v1.1       official DACoN v1.1 (DINOv2 ViT-L/14 + U-Net, fusion by addition)
    dacon-v1.0       official DACoN v1.0 (paper architecture, fusion MLP)
    zeroshot-dinov2  pooled DINOv2 features, no trained heads (any DINOv2 size)
    unet-only        a U-Net-only checkpoint (the paper's "w/o DINOv2" ablation)

Where files come from:
    DINOv2 weights    ``dinov2_weights=`` argument, else $DACON_DINOV2_WEIGHTS
    DACoN checkpoints ``checkpoint=`` argument, else $DACON_V1_1_CHECKPOINT /
                      $DACON_V1_0_CHECKPOINT / $DACON_UNET_CHECKPOINT, else
                      dacon_v1_1.pth / dacon_v1_0.pth / unet_only.pt in $DACON_WEIGHTS_DIR
                      (default ~/.cache/dacon)
A spec may also be a path to a checkpoint file: its kind is detected from its keys
(official v1.0 / v1.1 state dicts, bare or under model_state_dict, or our own format).

Our own checkpoint format (:func:`save_checkpoint`), loadable with
``torch.load(weights_only=True)``::

    {"format": "dacon-engine", "config": DaconConfig.to_dict(), "state_dict": {official keys}}

Models are built once per process and cached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DaconError
from ..matching.bank import SegmentFeaturizer
from .featurizer import DaconFeaturizer, resolve_device
from .network import DaconConfig, DaconNet, config_from_state_dict
from .weights import ENV_DINOV2, load_dinov2, read_state_dict

PACKAGE_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_WEIGHTS = PACKAGE_WEIGHTS / "default.pt"
FORMAT = "dacon-engine"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    needs_dinov2: bool
    checkpoint_env: str | None = None
    checkpoint_file: str | None = None   # file name in $DACON_WEIGHTS_DIR
    fixed_path: Path | None = None       # shipped file

    def needs(self) -> str:
        n = []
        if self.fixed_path is not None:
            n.append(f"the shipped file {self.fixed_path}")
        if self.checkpoint_env:
            n.append(f"a checkpoint (${self.checkpoint_env} or {self.checkpoint_file} in "
                     f"$DACON_WEIGHTS_DIR)")
        if self.needs_dinov2:
            n.append(f"DINOv2 weights (${ENV_DINOV2})")
        return " + ".join(n) if n else "nothing"


SPECS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("default", "small U-Net-only model shipped with the engine (CPU friendly)",
              False, fixed_path=DEFAULT_WEIGHTS),
    ModelSpec("dacon-v1.1", "official DACoN v1.1: DINOv2 ViT-L/14 + U-Net, fusion by addition",
              True, "DACON_V1_1_CHECKPOINT", "dacon_v1_1.pth"),
    ModelSpec("dacon-v1.0", "official DACoN v1.0 (paper): DINOv2 ViT-L/14 + U-Net, fusion MLP",
              True, "DACON_V1_0_CHECKPOINT", "dacon_v1_0.pth"),
    ModelSpec("zeroshot-dinov2", "pooled DINOv2 features, no trained heads", True),
    ModelSpec("unet-only", "U-Net alone (paper's w/o-DINOv2 ablation), from a checkpoint",
              False, "DACON_UNET_CHECKPOINT", "unet_only.pt"),
)}

_CACHE: dict[tuple, DaconFeaturizer] = {}


def weights_dir() -> Path:
    return Path(os.environ.get("DACON_WEIGHTS_DIR") or Path.home() / ".cache" / "dacon").expanduser()


def _checkpoint_of(spec: ModelSpec, checkpoint) -> Path | None:
    if spec.fixed_path is not None:
        return spec.fixed_path
    if checkpoint is not None:
        return Path(checkpoint).expanduser()
    if spec.checkpoint_env:
        env = os.environ.get(spec.checkpoint_env)
        return Path(env).expanduser() if env else weights_dir() / spec.checkpoint_file
    return None


def _dinov2_of(dinov2_weights) -> Path | None:
    p = dinov2_weights if dinov2_weights is not None else os.environ.get(ENV_DINOV2) or None
    return None if p is None else Path(p).expanduser()


def list_models(dinov2_weights: str | os.PathLike | None = None) -> list[dict]:
    """[{name, available, needs, description}] for ``dacon models``.

    ``dinov2_weights`` overrides $DACON_DINOV2_WEIGHTS when checking availability."""
    out = []
    for s in SPECS.values():
        ck = _checkpoint_of(s, None)
        ok = ck is None or ck.is_file()
        if s.needs_dinov2:
            d = _dinov2_of(dinov2_weights)
            ok = ok and d is not None and d.exists()
        out.append(dict(name=s.name, available=bool(ok), needs=s.needs(), description=s.description))
    return out


def list_all_models(dinov2_weights: str | os.PathLike | None = None) -> list[dict]:
    """Every model ``--model`` accepts by name: the geometric baseline, then :func:`list_models`."""
    baseline = {"name": "baseline", "available": True, "needs": "nothing",
                "description": "geometric matcher (position/size after box alignment); the floor"}
    return [baseline] + list_models(dinov2_weights=dinov2_weights)


def save_checkpoint(net: DaconNet, path: str | os.PathLike, extra: dict | None = None) -> None:
    """Write our checkpoint format (trainable weights only; never the DINOv2 backbone)."""
    from ..fileio.files import atomic_path

    obj = {"format": FORMAT, "config": net.config.to_dict(),
           "state_dict": {k: v.detach().cpu() for k, v in net.head_state_dict().items()}}
    if extra:
        obj["extra"] = dict(extra)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_net(checkpoint: str | os.PathLike | None, *, mode: str | None = None,
             dinov2_weights=None) -> DaconNet:
    """Build a DaconNet from a checkpoint (None only for zero-shot) and DINOv2 weights."""
    if checkpoint is None:
        if mode != "zeroshot":
            raise DaconError(None, f"model {mode!r} needs a checkpoint")
        bb = load_dinov2(dinov2_weights, norm="imagenet")
        return DaconNet(DaconConfig(mode="zeroshot", dino_dim=bb.embed_dim, dino_norm="imagenet"), bb)
    path = Path(checkpoint)
    sd, meta = read_state_dict(path)
    try:
        if meta.get("format") == FORMAT:
            cfg = DaconConfig.from_dict(meta["config"])
        else:
            cfg = config_from_state_dict(sd)
    except (ValueError, TypeError, KeyError) as e:
        raise DaconError(path, f"not a DACoN checkpoint ({e})") from None
    if mode is not None and cfg.mode != mode:
        raise DaconError(path, f"is a {cfg.mode!r} checkpoint, expected {mode!r}")
    bb = None
    if cfg.uses_dino:
        bb = load_dinov2(dinov2_weights, norm=cfg.dino_norm)
        if cfg.mode != "zeroshot" and bb.embed_dim != cfg.dino_dim:
            raise DaconError(getattr(bb, "source", dinov2_weights),
                             f"DINOv2 features are {bb.embed_dim}-d but {path.name} was trained "
                             f"on {cfg.dino_dim}-d features (DACoN uses ViT-L/14)")
    net = DaconNet(cfg, bb)
    net.load_heads(sd, path)
    return net.eval()


def build_featurizer(spec: str | os.PathLike | SegmentFeaturizer = "default",
                     device: str = "auto", dinov2_weights: str | os.PathLike | None = None, *,
                     checkpoint: str | os.PathLike | None = None,
                     batch_size: int | None = None) -> SegmentFeaturizer:
    """The one way to a model: a name (see SPECS, or "baseline": the geometric matcher, no
    weights) or a checkpoint path -> a featurizer (DACoN ones cached); a ready featurizer
    is returned as it is. DINOv2 weights given to a model without DINOv2 are refused."""
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    if os.fspath(spec) == "baseline":
        from ..matching.baseline import GeometricBaseline

        feat: SegmentFeaturizer = GeometricBaseline()
    else:
        feat = _dacon_featurizer(spec, device, dinov2_weights, checkpoint, batch_size)
    config = getattr(getattr(feat, "net", None), "config", None)
    if dinov2_weights is not None and not getattr(config, "uses_dino", False):
        raise DaconError(None, f"--dinov2-weights {dinov2_weights}: model "
                               f"{os.fspath(spec)!r} does not use DINOv2 (drop the option "
                               "or pick a DINOv2 model: dacon models)")
    return feat


def _dacon_featurizer(spec: str | os.PathLike, device: str,
                      dinov2_weights: str | os.PathLike | None,
                      checkpoint: str | os.PathLike | None,
                      batch_size: int | None) -> DaconFeaturizer:
    """A model name (see SPECS) or a checkpoint path -> a cached DaconFeaturizer."""
    dev = resolve_device(device)
    s = os.fspath(spec)
    if s in SPECS:
        ms = SPECS[s]
        ck = _checkpoint_of(ms, checkpoint)
        if ck is not None and not ck.is_file():
            hint = ("the default model has not been trained/shipped yet; pick another model "
                    "(dacon models)" if ms.name == "default" else
                    f"needs {ms.needs()}; the official DACoN checkpoints are linked from "
                    "https://github.com/kzmngt/DACoN")
            raise DaconError(ck, f"model {ms.name!r} is not available: file not found ({hint})")
        mode = {"dacon-v1.1": "v1.1", "dacon-v1.0": "v1.0", "zeroshot-dinov2": "zeroshot",
                "unet-only": "unet"}.get(ms.name)
        name = ms.name
    else:
        ck = Path(s).expanduser()
        if not ck.is_file():
            raise DaconError(ck, f"unknown model (names: {', '.join(SPECS)}) and no such file")
        mode, name = None, None
    dpath = _dinov2_of(dinov2_weights)
    key = (s, str(ck.resolve()) if ck else None, str(dpath.resolve()) if dpath else None, str(dev))
    if key not in _CACHE:
        net = load_net(ck, mode=mode, dinov2_weights=dpath)
        if batch_size is None:  # batching pays on a GPU; on a CPU one frame at a time is
            batch_size = 4 if dev.type == "cuda" else 1  # faster (measured 105 vs 188 ms)
        feat = DaconFeaturizer(net, dev, batch_size=batch_size)
        if name:
            feat.name = f"{name}: {feat.name}"
        _CACHE[key] = feat
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()
