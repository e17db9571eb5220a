"""The DACoN U-Net branch (paper §3, reference ``models/dacon.py``).

Module names and indices reproduce the official state-dict keys exactly, so a
DACoN checkpoint loads strictly into ``UNet(base=64)``:

    encoder_blocks.{0..3}.conv.{0,3}.*     ConvBlock = conv3x3 -> IN -> ReLU -> conv3x3 -> IN -> ReLU
    bottleneck.conv.{0,3}.*
    decoder_up_convs.{0..3}.up.1.*         UpConv = bilinear x2 (align_corners=True) -> conv3x3 -> IN -> ReLU
    decoder_conv_blocks.{0..3}.conv.{0,3}.*
    final_conv.*                           1x1 conv, no normalisation

InstanceNorm2d uses PyTorch defaults (no affine, no running stats), so it has no keys.
``base`` (64 = official) and ``depth`` (4 = official) are configurable for small models.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1), nn.InstanceNorm2d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UpConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class UNet(nn.Module):
    """(B, in_ch, S, S) -> (B, out_ch, S, S); S must be divisible by 2**depth."""

    def __init__(self, in_ch: int = 3, out_ch: int = 128, base: int = 64, depth: int = 4):
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError("UNet needs depth >= 1 and base >= 1")
        self.depth = depth
        widths = [base * 2 ** i for i in range(depth)]
        ins = [in_ch] + widths[:-1]
        self.encoder_blocks = nn.ModuleList(ConvBlock(i, o) for i, o in zip(ins, widths))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(widths[-1], widths[-1] * 2)
        rev = widths[::-1]  # deepest first: index 0 is 2*w[-1] -> w[-1]
        self.decoder_up_convs = nn.ModuleList(UpConv(c * 2, c) for c in rev)
        self.decoder_conv_blocks = nn.ModuleList(ConvBlock(c * 2, c) for c in rev)
        self.final_conv = nn.Conv2d(base, out_ch, 1)

    def forward(self, x: torch.Tensor, final: bool = True) -> torch.Tensor:
        """final=False returns the (B, base, S, S) map before the 1x1 ``final_conv``; since
        that conv is affine and segment pooling is a weighted mean, pooling first and then
        applying :meth:`head` gives the same segment features for much less work."""
        m = 2 ** self.depth
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"UNet input size {tuple(x.shape[-2:])} is not divisible by {m}")
        skips = []
        for blk in self.encoder_blocks:
            x = blk(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, blk, skip in zip(self.decoder_up_convs, self.decoder_conv_blocks, reversed(skips)):
            x = blk(torch.cat([skip, up(x)], dim=1))
        return self.final_conv(x) if final else x

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """``final_conv`` applied to (n, base) vectors (e.g. pooled pre-final features)."""
        w = self.final_conv.weight
        return torch.nn.functional.linear(v, w.reshape(w.shape[0], w.shape[1]).to(v.dtype),
                                          self.final_conv.bias.to(v.dtype))
