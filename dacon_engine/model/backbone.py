"""Frozen DINOv2 backbone built with timm (never downloads anything).

Variants (timm model names, img_size 518 -> a 37x37 patch grid):

    vits14 vit_small_patch14_dinov2   (384-d, 12 blocks)   + *_reg4_dinov2 with 4 registers
    vitb14 vit_base_patch14_dinov2    (768-d, 12 blocks)
    vitl14 vit_large_patch14_dinov2   (1024-d, 24 blocks)  <- what DACoN uses (no registers)
    vitg14 vit_giant_patch14_dinov2   (1536-d, 40 blocks, SwiGLU MLP)

Output: the last block's patch tokens after the final LayerNorm (``forward_features`` minus
the ``num_prefix_tokens`` cls/register tokens) as a (B, C, g, g) map: the same as the
reference's ``get_intermediate_layers(n=1, norm=True)``.

Input normalisation (``norm``):
    "imagenet" (default) - ImageNet mean/std, what DINOv2 was trained with.
    "raw01"              - raw [0, 1] RGB, what the official DACoN code feeds (no mean/std);
                           use it with the official DACoN v1.0 / v1.1 checkpoints, whose
                           heads were trained on those features.
Input images are resized bilinearly (align_corners=False) to img_size x img_size, ignoring
the aspect ratio, as the reference does. Callers pass RGB already composited on white.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMS = ("imagenet", "raw01")

# variant -> (timm base name, embed_dim, depth, num_heads)
DINOV2_VARIANTS = {
    "vits14": ("vit_small_patch14", 384, 12, 6),
    "vitb14": ("vit_base_patch14", 768, 12, 12),
    "vitl14": ("vit_large_patch14", 1024, 24, 16),
    "vitg14": ("vit_giant_patch14", 1536, 40, 24),
}


def timm_name(variant: str, registers: bool = False) -> str:
    if variant not in DINOV2_VARIANTS:
        raise ValueError(f"unknown DINOv2 variant {variant!r}; one of {sorted(DINOV2_VARIANTS)}")
    return DINOV2_VARIANTS[variant][0] + ("_reg4_dinov2" if registers else "_dinov2")


def build_dinov2(variant: str = "vitl14", registers: bool = False, img_size: int = 518,
                 **overrides) -> nn.Module:
    """A randomly initialised timm DINOv2 ViT (pretrained=False; load weights separately)."""
    import timm

    return timm.create_model(timm_name(variant, registers), pretrained=False, img_size=img_size,
                             num_classes=0, **overrides)


def build_vit(embed_dim: int, depth: int, num_heads: int, *, patch_size: int = 14,
              img_size: int = 518, reg_tokens: int = 0, mlp_hidden: int | None = None,
              swiglu: bool = False) -> nn.Module:
    """A DINOv2-style timm VisionTransformer of any size (layer scale, no head).

    ``mlp_hidden`` is fc1's output width (for SwiGLU: the packed 2x hidden width)."""
    from timm.layers import SwiGLUPacked
    from timm.models.vision_transformer import VisionTransformer

    hidden = mlp_hidden if mlp_hidden is not None else 4 * embed_dim
    kw = dict(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
              num_heads=num_heads, mlp_ratio=(hidden + 0.5) / embed_dim, init_values=1e-5,
              num_classes=0)
    if reg_tokens:
        kw.update(reg_tokens=reg_tokens, no_embed_class=True)
    if swiglu:
        kw.update(mlp_layer=SwiGLUPacked, act_layer=nn.SiLU)
    return VisionTransformer(**kw)


class DinoBackbone(nn.Module):
    """Frozen ViT -> (B, C, g, g) patch feature map. Always in eval mode, no gradients."""

    def __init__(self, vit: nn.Module, norm: str = "imagenet"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.vit = vit
        self.norm = norm
        for p in self.vit.parameters():
            p.requires_grad_(False)
        self.vit.eval()

    def train(self, mode: bool = True):  # stays frozen
        super().train(False)
        return self

    @property
    def img_size(self) -> int:
        return int(self.vit.patch_embed.img_size[0])

    @property
    def patch_size(self) -> int:
        return int(self.vit.patch_embed.patch_size[0])

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size

    @property
    def embed_dim(self) -> int:
        return int(self.vit.embed_dim)

    def prepare(self, rgb01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> resized and normalised network input."""
        return dino_prepare(rgb01, self.img_size, self.norm)

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return self.features(self.prepare(rgb01))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared input (B, 3, S, S) -> (B, C, g, g)."""
        x = self.vit.forward_features(x)
        x = x[:, self.vit.num_prefix_tokens:]
        b, n, c = x.shape
        g = self.grid
        if n != g * g:
            raise RuntimeError(f"expected {g * g} patch tokens, got {n}")
        return x.transpose(1, 2).reshape(b, c, g, g)


def dino_prepare(rgb01: torch.Tensor, size: int, norm: str) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> the DINOv2 input: resized to ``size`` x ``size``,
    normalised as ``norm`` says (a function of numbers only: processes without the
    backbone prepare frames for it)."""
    if rgb01.shape[-2:] != (size, size):
        rgb01 = F.interpolate(rgb01, size=(size, size), mode="bilinear", align_corners=False)
    if norm == "imagenet":
        mean = torch.tensor(IMAGENET_MEAN, device=rgb01.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=rgb01.device).view(1, 3, 1, 1)
        rgb01 = (rgb01 - mean) / std
    return rgb01
