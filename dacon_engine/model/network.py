"""DaconNet: DINOv2 branch + U-Net branch + per-segment heads (reference ``models/dacon.py``).

Modes (``DaconConfig.mode``):

    "v1.1"      official default: L2-normalise dino_mlp(pooled DINO) and pooled U-Net
                features (eps 1e-6) and add them.
    "v1.0"      paper: concat [dino_mlp(pooled DINO), pooled U-Net] -> dino_unet_mlp.
    "zeroshot"  pooled DINOv2 features alone, no trained heads.
    "unet"      U-Net alone (the paper's "w/o DINOv2" ablation; the embedded default model).

State-dict keys of the trainable part are exactly the official ones (``unet.*``,
``dino_mlp.fc{1,2}.*``, v1.0: ``dino_unet_mlp.fc{1,2}.*``); the frozen backbone lives
under ``dino.*`` and is never saved in DACoN checkpoints (see :meth:`DaconNet.head_state_dict`).

Both branches see RGB in [0, 1] composited on white (alpha never reaches a network); the
U-Net gets no mean/std normalisation (as the reference), the DINO branch follows its
backbone's ``norm`` ("raw01" for the official checkpoints).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import DinoBackbone, dino_prepare
from .pooling import DEFAULT_POOL_CAP, PoolPlan, pool_segments
from .unet import UNet

MODES = ("v1.1", "v1.0", "zeroshot", "unet")


LINE_WIDEN_MAX = 4.0
"""Largest ``DaconConfig.line_widen`` (a window of 4x the downscale is already a blot)."""


@dataclass
class DaconConfig:
    mode: str = "v1.1"
    unet_base: int = 64           # 64 = official
    unet_depth: int = 4
    unet_input: int = 512         # U-Net input size (square); divisible by 2**unet_depth
    small_frame_input: int | None = None  # set: frames smaller than unet_input run at this
    feat_dim: int = 128           # U-Net output / head output width
    dino_dim: int = 1024          # backbone embed dim (ViT-L/14 = 1024)
    mlp_hidden: int = 512
    dino_norm: str = "raw01"      # input normalisation of the DINO branch
    pool_cap: int | None = DEFAULT_POOL_CAP  # None = full-resolution pooling (v1.0 reference)
    antialias: bool = False       # area-like downsampling of the U-Net input (official: False)
    coord_input: bool = False     # 2 extra U-Net input channels: x, y in the drawing's box
    line_widen: float = 0.0       # lines widened by ~this x the downscale first; 0 = off
    extra: dict = field(default_factory=dict)

    @property
    def uses_dino(self) -> bool:
        return self.mode in ("v1.1", "v1.0", "zeroshot")

    @property
    def uses_unet(self) -> bool:
        return self.mode in ("v1.1", "v1.0", "unet")

    def unet_size(self, height: int, width: int) -> int:
        """U-Net input side for a ``height`` x ``width`` frame: ``unet_input``, or
        ``small_frame_input`` when set and the frame's longest side is below
        ``unet_input`` (a thumbnail-sized frame is not blown up further than in training)."""
        if self.small_frame_input and max(height, width) < self.unet_input:
            return self.small_frame_input
        return self.unet_input

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DaconConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        cfg = cls(**d)
        if cfg.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {cfg.mode!r}")
        step = 2 ** cfg.unet_depth
        if cfg.uses_unet and (cfg.unet_input < step or cfg.unet_input % step):
            raise ValueError(f"unet_input {cfg.unet_input} must be a multiple of {step}")
        if not 0.0 <= cfg.line_widen <= LINE_WIDEN_MAX:
            raise ValueError(f"line_widen must be from 0 to {LINE_WIDEN_MAX:g}, "
                             f"got {cfg.line_widen}")
        small = cfg.small_frame_input
        if small is not None and not (0 < small <= cfg.unet_input and small % step == 0):
            raise ValueError(f"small_frame_input {small} must be a multiple of {step} from 1 "
                             f"to unet_input {cfg.unet_input}")
        return cfg


def widen_size(line_widen: float, frame_side: int, net_side: int) -> int:
    """Window (px) of the line widening for a frame of longest side ``frame_side`` going
    to a ``net_side`` network input: ``line_widen`` x the downscale, rounded half up;
    1 (nothing) for frames no larger than about the input."""
    return max(1, int(line_widen * frame_side / net_side + 0.5))


@dataclass(frozen=True)
class InputSpec:
    """What a DaconNet is fed, without the network: line widening, resizing, coordinates,
    as numbers. Processes that hold no model (a job's stage workers) prepare frames with
    it; :class:`DaconNet` itself goes through it too."""

    config: DaconConfig
    dino_size: int | None = None     # DINOv2 input side (None: no DINO branch)
    dino_patch: int | None = None
    dino_norm: str = "raw01"

    def widen_window(self, height: int, width: int) -> int:
        """Line widening window (px) for a ``height`` x ``width`` frame (1 = none)."""
        c = self.config
        if c.line_widen <= 0:
            return 1
        side = c.unet_size(height, width) if c.uses_unet else self.dino_size
        assert side is not None
        return widen_size(c.line_widen, max(height, width), side)

    def prepare(self, rgb01: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] -> per-branch network inputs (resized)."""
        out = {}
        if self.dino_size is not None:
            out["dino"] = dino_prepare(rgb01, self.dino_size, self.dino_norm)
        if self.config.uses_unet:
            s = self.config.unet_size(*rgb01.shape[-2:])
            x = rgb01 if rgb01.shape[-2:] == (s, s) else F.interpolate(
                rgb01, size=(s, s), mode="bilinear", align_corners=False,
                antialias=self.config.antialias)
            if self.config.coord_input:
                x = torch.cat([x, box_coordinates(x)], 1)
            out["unet"] = x
        return out


class MLP(nn.Module):
    """fc1 -> ReLU -> fc2 (keys fc1.*, fc2.*)."""

    def __init__(self, cin: int, hidden: int, cout: int):
        super().__init__()
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class DaconNet(nn.Module):
    def __init__(self, config: DaconConfig, backbone: DinoBackbone | None = None):
        super().__init__()
        if config.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {config.mode!r}")
        self.config = config
        if config.uses_dino:
            if backbone is None:
                raise ValueError(f"mode {config.mode!r} needs a DINOv2 backbone")
            if config.mode != "zeroshot" and backbone.embed_dim != config.dino_dim:
                raise ValueError(f"backbone is {backbone.embed_dim}-d but the heads expect "
                                 f"{config.dino_dim}-d DINOv2 features")
            self.dino = backbone
        else:
            self.dino = None
        if config.uses_unet:
            in_ch = 3 + (2 if config.coord_input else 0)
            self.unet = UNet(in_ch, config.feat_dim, config.unet_base, config.unet_depth)
        if config.mode in ("v1.1", "v1.0"):
            self.dino_mlp = MLP(config.dino_dim, config.mlp_hidden, config.feat_dim)
        if config.mode == "v1.0":
            self.dino_unet_mlp = MLP(2 * config.feat_dim, config.mlp_hidden, config.feat_dim)

    # ------------------------------------------------------------------ weights
    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """The trainable weights, with the official key names (no ``dino.*``)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("dino.")}

    def load_heads(self, sd: dict[str, torch.Tensor], path=None) -> None:
        """Strictly load the trainable weights (official names); DaconError names the key."""
        from .weights import load_strict

        load_strict(self, sd, path, skip_prefix="dino.")

    @property
    def out_dim(self) -> int:
        return self.dino.embed_dim if self.config.mode == "zeroshot" else self.config.feat_dim

    # ------------------------------------------------------------------ forward
    @property
    def input_spec(self) -> "InputSpec":
        """What this network is fed, as numbers (picklable, no weights)."""
        d = self.dino
        return InputSpec(self.config, None if d is None else d.img_size,
                         None if d is None else d.patch_size, "raw01" if d is None else d.norm)

    def widen_window(self, height: int, width: int) -> int:
        """Line widening window (px) for a ``height`` x ``width`` frame (1 = none): see
        :func:`dacon_engine.model.featurizer.line_to_rgb01` and ``DaconConfig.line_widen``."""
        return self.input_spec.widen_window(height, width)

    def prepare(self, rgb01: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] -> per-branch network inputs (resized)."""
        return self.input_spec.prepare(rgb01)

    def feature_maps(self, inputs: dict[str, torch.Tensor], late_head: bool = False
                     ) -> dict[str, torch.Tensor]:
        """Prepared inputs (batched) -> {"dino": (B, C, g, g), "unet": (B, D, S, S)}.

        ``late_head=True`` returns {"unet_pre": (B, base, S, S)} instead of "unet": the U-Net
        map before its 1x1 final conv, which :meth:`segment_features` applies after pooling
        (same result, far cheaper: pooling base channels instead of feat_dim)."""
        maps = {}
        if "dino" in inputs:
            maps["dino"] = self.dino.features(inputs["dino"])
        if "unet" in inputs:
            if late_head:
                maps["unet_pre"] = self.unet(inputs["unet"], final=False)
            else:
                maps["unet"] = self.unet(inputs["unet"])
        return maps

    def fuse(self, dino: torch.Tensor | None, unet: torch.Tensor | None) -> torch.Tensor:
        """Pooled per-segment features -> (n, out_dim) segment features (not normalised)."""
        mode = self.config.mode
        if mode == "zeroshot":
            return dino
        if mode == "unet":
            return unet
        d = self.dino_mlp(dino)
        if mode == "v1.1":
            return F.normalize(d, dim=-1, eps=1e-6) + F.normalize(unet, dim=-1, eps=1e-6)
        return self.dino_unet_mlp(torch.cat([d, unet], dim=-1))

    def segment_features(self, maps: dict[str, torch.Tensor], index: int, plan: PoolPlan) -> torch.Tensor:
        """Segment features of frame ``index`` of a batch of maps -> (n, out_dim) float32."""
        return self.head_features(self.pooled_maps(maps, index, plan), plan.counts == 0)

    @staticmethod
    def pooled_maps(maps: dict[str, torch.Tensor], index: int, plan: PoolPlan
                    ) -> dict[str, torch.Tensor]:
        """Each map of frame ``index`` of a batch averaged per segment: {name: (n, C)}."""
        return {k: pool_segments(v[index].float(), plan) for k, v in maps.items()}

    def head_features(self, pooled: dict[str, torch.Tensor],
                      empty: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled maps ({"dino", "unet_pre" or "unet"}: (n, C) each) -> (n, out_dim) float32
        segment features: the part of the network after pooling (:meth:`head_parameters`).
        ``empty``: (n,) bool, segments without a pooling cell (their U-Net part is 0)."""
        pooled = dict(pooled)
        if "unet_pre" in pooled:
            u = self.unet.head(pooled.pop("unet_pre"))
            pooled["unet"] = u if empty is None else \
                u.masked_fill(empty.to(u.device)[:, None], 0.0)
        return self.fuse(pooled.get("dino"), pooled.get("unet")).float()

    def head_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters applied after segment pooling: the U-Net's 1x1 final conv
        and the DINO / fusion MLPs (none in zero-shot mode)."""
        mods = [getattr(self, name, None) for name in ("dino_mlp", "dino_unet_mlp")]
        if self.config.uses_unet:
            mods.append(self.unet.final_conv)
        return [p for m in mods if m is not None for p in m.parameters()]


def box_coordinates(rgb01: torch.Tensor, dark: float = 0.5) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 2, H, W): x and y in [-1, 1] across the bounding box of the
    drawing (pixels darker than ``dark``), linear beyond it; the whole image if no ink.

    Aligning coordinates to the drawing's box makes them invariant to where the character
    sits in the frame and how big it is drawn.
    """
    b, _, h, w = rgb01.shape
    ink = rgb01.mean(1) < dark                                    # (B, H, W)
    rows, cols = ink.any(2), ink.any(1)                           # (B, H), (B, W)

    def extent(m: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(n, device=m.device, dtype=torch.float32).expand_as(m)
        has = m.any(1)
        lo = torch.where(m, idx, torch.full_like(idx, n)).amin(1)
        hi = torch.where(m, idx, torch.full_like(idx, -1)).amax(1)
        lo = torch.where(has, lo, torch.zeros_like(lo))
        hi = torch.where(has, hi, torch.full_like(hi, n - 1))
        return lo, (hi - lo).clamp_min(1.0)

    y0, hh = extent(rows, h)
    x0, ww = extent(cols, w)
    ys = torch.arange(h, device=rgb01.device, dtype=torch.float32)
    xs = torch.arange(w, device=rgb01.device, dtype=torch.float32)
    yc = (ys[None, :] - y0[:, None]) / hh[:, None] * 2 - 1        # (B, H)
    xc = (xs[None, :] - x0[:, None]) / ww[:, None] * 2 - 1        # (B, W)
    return torch.stack([xc[:, None, :].expand(b, h, w), yc[:, :, None].expand(b, h, w)], 1
                       ).to(rgb01.dtype)


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> DaconConfig:
    """Infer the architecture of an official-format DACoN state dict from its keys/shapes."""
    if "unet.final_conv.weight" not in sd:
        raise ValueError("missing key 'unet.final_conv.weight' (not a DACoN checkpoint)")
    depth = 1 + max((int(k.split(".")[2]) for k in sd if k.startswith("unet.encoder_blocks.")), default=-1)
    base = int(sd["unet.encoder_blocks.0.conv.0.weight"].shape[0])
    feat = int(sd["unet.final_conv.weight"].shape[0])
    if "dino_unet_mlp.fc1.weight" in sd:
        mode = "v1.0"
    elif "dino_mlp.fc1.weight" in sd:
        mode = "v1.1"
    else:
        mode = "unet"
    cfg = DaconConfig(mode=mode, unet_base=base, unet_depth=depth, feat_dim=feat)
    if mode != "unet":
        cfg.dino_dim = int(sd["dino_mlp.fc1.weight"].shape[1])
        cfg.mlp_hidden = int(sd["dino_mlp.fc1.weight"].shape[0])
    if mode == "v1.0":
        cfg.pool_cap = None  # the v1.0 reference pools at full resolution
    return cfg
