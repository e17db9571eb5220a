"""DaconFeaturizer: a DaconNet behind the engine's SegmentFeaturizer protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..frames import SegmentedFrame
from ..matching.bank import cosine_similarity01
from .network import DaconNet, InputSpec
from .pooling import PoolPlan, plan_pooling


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (or None) -> cuda when available, else cpu.

    An explicit device this machine cannot run (``cuda`` without a GPU, a GPU index that
    does not exist, an unknown name) is a DaconError naming the devices it has.
    """
    from .devices import check_device

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return check_device(device)


def widen_lines(line: np.ndarray, k: int) -> np.ndarray:
    """uint8 line art (RGBA, RGB or gray) -> opaque RGB (gray stays gray) composited over
    white, then the per-channel minimum over k x k px: dark and colored lines grow by
    k - 1 px. Downscaled 3.75x to the network input, a 1-px line keeps about a quarter
    of its ink and an 8-connected diagonal less; widened, thin art reaches the network
    at about the weight small training frames have, whatever width it was drawn at."""
    from ..segmentation.lineart import composite_rgb

    a = np.ascontiguousarray(line)
    if a.dtype != np.uint8:
        raise TypeError(f"widen_lines takes uint8 line art, not {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 4:
        a = composite_rgb(a)
    elif a.ndim == 3 and a.shape[2] == 2:  # gray + alpha: composited as RGBA, back to gray
        g = cv2.extractChannel(a, 0)
        a = cv2.cvtColor(composite_rgb(cv2.merge([g, g, g, cv2.extractChannel(a, 1)])),
                         cv2.COLOR_RGB2GRAY)
    return cv2.erode(a, np.ones((k, k), np.uint8), borderType=cv2.BORDER_REPLICATE)


def line_to_rgb01(line: np.ndarray, widen: int = 1) -> torch.Tensor:
    """HxWx4 RGBA (or HxWx3 RGB / HxW gray) uint8 line art -> (3, H, W) float32 RGB in [0, 1],
    composited over white, so the RGB under transparent pixels never matters. ``widen``
    > 1: lines widened first (:func:`widen_lines`, uint8 art only)."""
    a = np.asarray(line)
    if widen > 1:
        a = widen_lines(a, widen)
    if a.ndim == 2:
        a = a[..., None]
    t = torch.from_numpy(np.ascontiguousarray(a))
    c = t.shape[-1]
    if c in (1, 2):  # gray (+ alpha)
        t = torch.cat([t[..., :1].expand(*t.shape[:2], 3), t[..., 1:]], -1)
    if a.dtype == np.uint8 and t.shape[-1] < 4:  # opaque: transposed as uint8, scaled once
        chw = np.ascontiguousarray(t.numpy().transpose(2, 0, 1))
        return torch.from_numpy(np.multiply(chw, np.float32(1.0 / 255.0), dtype=np.float32))
    rgb = t[..., :3].permute(2, 0, 1).float()
    scale = 1.0 / 255.0 if a.dtype == np.uint8 else 1.0
    if t.shape[-1] < 4:
        return rgb.mul_(scale).contiguous()
    alpha = t[..., 3].float().mul_(scale)               # (H, W) in [0, 1]
    # rgb * alpha + (1 - alpha), in place: ((rgb*scale - 1) * alpha) + 1
    return rgb.mul_(scale).sub_(1.0).mul_(alpha).add_(1.0)


def net_inputs(net: DaconNet | InputSpec, line: np.ndarray, device: torch.device | str = "cpu"
               ) -> dict[str, torch.Tensor]:
    """One frame's line art -> the network's per-branch inputs (batch of 1): lines widened
    as its config asks for this frame size, converted, moved, resized. Inference and
    training both come through here."""
    spec = net.input_spec if isinstance(net, DaconNet) else net
    h, w = np.asarray(line).shape[:2]
    rgb = line_to_rgb01(line, spec.widen_window(h, w)).unsqueeze(0).to(device)
    return spec.prepare(rgb)


@dataclass
class FrameInputs:
    """A frame made ready for the network by a process that holds no model (a job's stage
    worker, :func:`prepare_frame`): the pixel work the featurizer would otherwise do before
    and after its network pass. Pickled by value (numpy), never through shared memory, so
    it outlives the process that made it."""

    inputs: dict[str, torch.Tensor]   # the network's inputs, a batch of 1 (net_inputs)
    plan: PoolPlan                    # the frame's segment pooling plan

    def __getstate__(self) -> dict:
        return {"inputs": {k: v.numpy() for k, v in self.inputs.items()}, "plan": self.plan}

    def __setstate__(self, state: dict) -> None:
        self.inputs = {k: torch.from_numpy(v) for k, v in state["inputs"].items()}
        self.plan = state["plan"]


def prepare_frame(spec: InputSpec, frame: SegmentedFrame) -> FrameInputs:
    """``frame``'s network inputs and pooling plan, made on the CPU: the pixel work of
    :meth:`DaconFeaturizer.segment_features` minus the network (the same numbers)."""
    return FrameInputs(net_inputs(spec, frame.line),
                       plan_pooling(frame.labels, frame.n_segments, spec.config.pool_cap))


class DaconFeaturizer:
    """Per-segment features of a DaconNet: L2-normalised, float32, on the CPU.

    Frames are resized to the network input size(s) and run in batches of ``batch_size``
    under ``torch.inference_mode()``; the network under bf16 autocast where ``precision``
    resolves to bf16 (:func:`~.devices.resolve_precision`: "auto" = where the device runs it
    natively), pooling always in float32. Pooling happens per frame, so results do not
    depend on how frames are batched.
    """

    def __init__(self, net: DaconNet, device: str | torch.device | None = "auto",
                 batch_size: int = 4, name: str | None = None, precision: str = "auto"):
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        self.batch_size = max(1, int(batch_size))
        self.name = name or describe(net)
        self.precision = precision  # requested: auto, fp32 or bf16

    @property
    def running_precision(self) -> str:
        """The precision the network runs in now: "bf16" or "fp32"."""
        from . import devices

        return devices.running_precision(self.precision, self.device)

    @property
    def dim(self) -> int:
        return self.net.out_dim

    def to_device(self, device: str | torch.device) -> None:
        """Move the network (e.g. to the CPU after the GPU ran out of memory)."""
        self.device = torch.device(device)
        self.net.to(self.device)

    @property
    def pool_cap(self) -> int | None:
        """Longest side of the segment-pooling grid (None = full resolution)."""
        return self.net.config.pool_cap

    @pool_cap.setter
    def pool_cap(self, value: int | None) -> None:
        self.net.config.pool_cap = value

    def _inputs(self, frame: SegmentedFrame) -> dict[str, torch.Tensor]:
        if isinstance(frame.prepared, FrameInputs):
            return {k: v.to(self.device) for k, v in frame.prepared.inputs.items()}
        return net_inputs(self.net, frame.line, self.device)

    def _plan(self, frame: SegmentedFrame) -> PoolPlan:
        if isinstance(frame.prepared, FrameInputs):
            return frame.prepared.plan
        return plan_pooling(frame.labels, frame.n_segments, self.net.config.pool_cap)

    def segment_features(self, frames: Sequence[SegmentedFrame]) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        bf16 = self.running_precision == "bf16"
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                chunk = frames[i:i + self.batch_size]
                per = [self._inputs(f) for f in chunk]
                # frames of different sizes may get different network input sizes: one
                # batch per input shape, results kept in frame order
                groups: dict[tuple, list[int]] = {}
                for j, p in enumerate(per):
                    groups.setdefault(tuple(tuple(v.shape) for v in p.values()), []).append(j)
                feats: dict[int, torch.Tensor] = {}
                for members in groups.values():
                    inputs = {k: torch.cat([per[j][k] for j in members], 0) for k in per[0]}
                    with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                        maps = self.net.feature_maps(inputs, late_head=True)
                    del inputs
                    maps = {k: v.float() for k, v in maps.items()}
                    for b, j in enumerate(members):
                        plan = self._plan(chunk[j])
                        feats[j] = F.normalize(self.net.segment_features(maps, b, plan),
                                               dim=-1, eps=1e-6).cpu()
                    del maps
                del per
                out.extend(feats[j] for j in range(len(chunk)))
        return out

    def similarity(self, target: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
        return cosine_similarity01(target, bank)


def describe(net: DaconNet) -> str:
    c = net.config
    parts = []
    if net.dino is not None:
        parts.append(f"DINOv2 {net.dino.embed_dim}-d/{net.dino.patch_size} ({net.dino.norm})")
    if c.uses_unet:
        size = f"{c.unet_input}" if not c.small_frame_input else \
            f"{c.unet_input} ({c.small_frame_input} under {c.unet_input} px)"
        parts.append(f"U-Net base {c.unet_base} @ {size}")
    label = {"v1.1": "dacon-v1.1", "v1.0": "dacon-v1.0", "zeroshot": "zeroshot-dinov2",
             "unet": "unet-only"}[c.mode]
    return f"{label} ({' + '.join(parts)})"
