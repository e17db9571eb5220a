"""Segment pooling: the mean of a feature map over each segment, at a capped grid.

Semantics (reference ``utils/pooling.py``, v1.1):

* Label 0 (line pixels) belongs to no segment; labels 1..n are segments, row i = label i+1.
* The pooling grid: ``k_h = max(1, H // cap)``, ``k_w = max(1, W // cap)`` (cap = 512 by
  default, like the reference's ``segment_pool_size``), grid = ``(H // k_h, W // k_w)``.
  1920x1920 -> 640x640, 1080x1920 -> 540x640, anything under 2*cap -> full resolution.
  ``cap=None`` pools at full resolution (v1.0 behaviour).
* Masks are MAX-pooled: a grid cell belongs to EVERY segment that has any pixel in it,
  so small segments never vanish. Unlike the reference (which floors and silently drops
  the last ``H % k_h`` rows / ``W % k_w`` columns), those remainder pixels are counted in
  the last cell row/column, so no segment can end up with an empty mask. A label with no
  pixel at all gets a zero vector.
* The feature map is resized bilinearly (align_corners=False) to the grid and averaged
  over each segment's cells.

Cost: the resized map is never materialised (a 37x37x1024 DINO map at 640x640 would be
1.6 GB) and no segments x H x W stack is built. Bilinear resizing is linear, so each
(cell, segment) pair contributes four weighted source pixels; those weights form a sparse
(segments x source pixels) matrix that multiplies the flattened feature map.
The (cell, segment) pairs come from sorting the k_h*k_w labels inside each cell.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_POOL_CAP = 512


@dataclass
class PoolPlan:
    """The (cell, segment) incidence of one frame at its pooling grid."""

    n_segments: int
    grid: tuple[int, int]       # (Ho, Wo)
    cell_y: torch.Tensor        # (P,) int64
    cell_x: torch.Tensor        # (P,) int64
    seg: torch.Tensor           # (P,) int64 in [0, n), sorted ascending
    counts: torch.Tensor        # (n,) float32: cells per segment

    @property
    def n_pairs(self) -> int:
        return int(self.seg.numel())

    def __getstate__(self) -> dict:
        """Pickled by value and compact (a 1920x1920 frame's plan: ~3 MB instead of 10):
        cell coordinates as int16 (int32 on a grid wider than int16 holds), segments as
        int32 numpy arrays."""
        cell = np.int16 if max(self.grid) <= np.iinfo(np.int16).max else np.int32
        return {"n": self.n_segments, "grid": self.grid,
                "cell_y": self.cell_y.numpy().astype(cell),
                "cell_x": self.cell_x.numpy().astype(cell),
                "seg": self.seg.numpy().astype(np.int32), "counts": self.counts.numpy()}

    def __setstate__(self, state: dict) -> None:
        self.n_segments, self.grid = state["n"], tuple(state["grid"])
        for k in ("cell_y", "cell_x", "seg"):
            setattr(self, k, torch.from_numpy(state[k].astype(np.int64)))
        self.counts = torch.from_numpy(state["counts"])


def pool_grid(size: tuple[int, int], cap: int | None = DEFAULT_POOL_CAP) -> tuple[int, int, int, int]:
    """(H, W) -> (k_h, k_w, Ho, Wo)."""
    h, w = size
    if cap is None:
        return 1, 1, h, w
    kh, kw = max(1, h // cap), max(1, w // cap)
    return kh, kw, h // kh, w // kw


def plan_pooling(labels: np.ndarray | torch.Tensor, n_segments: int,
                 cap: int | None = DEFAULT_POOL_CAP) -> PoolPlan:
    """Build the pooling plan of one HxW label map (0 = line, 1..n = segments)."""
    lab = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be HxW, got shape {tuple(lab.shape)}")
    lab = lab.to(torch.int32)
    h, w = lab.shape
    if lab.numel() and (int(lab.max()) > n_segments or int(lab.min()) < 0):
        raise ValueError(f"labels span {int(lab.min())}..{int(lab.max())}, expected 0..{n_segments}")
    kh, kw, ho, wo = pool_grid((h, w), cap)
    main = lab[: ho * kh, : wo * kw]
    if kh == 1 and kw == 1:
        cells = torch.arange(ho * wo).view(ho, wo)
        keys_lab, keys_cell = main.reshape(-1), cells.reshape(-1)
        keep = keys_lab > 0
        keys = keys_cell[keep] * (n_segments + 1) + keys_lab[keep].to(torch.int64)
        need_unique = False
    else:
        blocks = main.reshape(ho, kh, wo, kw).permute(0, 2, 1, 3).reshape(ho * wo, kh * kw)
        blocks = blocks.to(torch.int32)
        kk = kh * kw
        if kk <= 16:  # few labels per cell: pairwise comparisons beat a per-row sort
            keep = blocks > 0
            for j in range(1, kk):
                col = blocks[:, j]
                dup = col == blocks[:, 0]
                for i in range(1, j):
                    dup |= col == blocks[:, i]
                keep[:, j] &= ~dup
        else:
            blocks, _ = torch.sort(blocks, dim=1)
            keep = blocks > 0
            keep[:, 1:] &= blocks[:, 1:] != blocks[:, :-1]
        rows, cols = keep.nonzero(as_tuple=True)
        keys = rows * (n_segments + 1) + blocks[rows, cols].to(torch.int64)
        need_unique = False
    # remainder rows / columns go to the last cell row / column
    extra = []
    if h > ho * kh:
        r = lab[ho * kh:, :]
        cy = torch.full(r.shape, ho - 1, dtype=torch.int64)
        cx = (torch.arange(w) // kw).clamp_max(wo - 1).expand_as(r)
        extra.append((cy.reshape(-1), cx.reshape(-1), r.reshape(-1)))
    if w > wo * kw:
        r = lab[: ho * kh, wo * kw:]
        cy = (torch.arange(ho * kh) // kh).unsqueeze(1).expand_as(r)
        cx = torch.full(r.shape, wo - 1, dtype=torch.int64)
        extra.append((cy.reshape(-1), cx.reshape(-1), r.reshape(-1)))
    if extra:
        cy = torch.cat([e[0] for e in extra])
        cx = torch.cat([e[1] for e in extra])
        ll = torch.cat([e[2] for e in extra])
        ok = ll > 0
        keys = torch.cat([keys, (cy[ok] * wo + cx[ok]) * (n_segments + 1) + ll[ok].to(torch.int64)])
        need_unique = True
    if need_unique:
        keys = torch.unique(keys)
    seg = keys % (n_segments + 1) - 1
    cell = keys // (n_segments + 1)
    seg, order = torch.sort(seg, stable=True)
    cell = cell[order]
    counts = torch.bincount(seg, minlength=n_segments).to(torch.float32)
    return PoolPlan(n_segments, (ho, wo), cell // wo, cell % wo, seg, counts)


def _bilinear_taps(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyTorch's bilinear (align_corners=False) taps: out[i] = w0*in[i0] + w1*in[i1]."""
    scale = n_in / n_out
    src = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5).clamp_min(0.0)
    i0 = src.floor().to(torch.int64).clamp_max(n_in - 1)
    i1 = (i0 + 1).clamp_max(n_in - 1)
    l1 = (src - i0.to(torch.float64)).clamp(0.0, 1.0).to(torch.float32)
    l1 = torch.where(i1 == i0, torch.zeros_like(l1), l1)
    return i0, i1, (1.0 - l1), l1


_DENSE_LIMIT = 16_000_000  # n_segments * h * w below which a dense weight matrix is used


def pooling_weights(plan: PoolPlan, size: tuple[int, int],
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, h*w) matrix W (dense or sparse CSR) so that pooled = W @ feat.reshape(C, -1).T,
    for a feature map of spatial ``size`` resized to ``plan.grid``; rows are divided by the
    cell count (mean). Built on ``device``."""
    h, w = size
    ho, wo = plan.grid
    n = plan.n_segments
    y0, y1, wy0, wy1 = (t.to(device) for t in _bilinear_taps(h, ho))
    x0, x1, wx0, wx1 = (t.to(device) for t in _bilinear_taps(w, wo))
    cy, cx, seg = plan.cell_y.to(device), plan.cell_x.to(device), plan.seg.to(device)
    inv = 1.0 / plan.counts.to(device).clamp_min(1.0)
    ys, yw = (y0[cy], y1[cy]), (wy0[cy], wy1[cy])
    xs, xw = (x0[cx], x1[cx]), (wx0[cx], wx1[cx])
    cols = torch.stack([ys[a] * w + xs[b] for a in (0, 1) for b in (0, 1)], 1)       # (P, 4)
    vals = torch.stack([yw[a] * xw[b] for a in (0, 1) for b in (0, 1)], 1) * inv[seg, None]
    if n * h * w <= _DENSE_LIMIT:
        dense = torch.zeros(n * h * w, dtype=torch.float32, device=device)
        dense.index_add_(0, (seg[:, None] * (h * w) + cols).reshape(-1), vals.reshape(-1))
        return dense.view(n, h * w)
    crow = torch.zeros(n + 1, dtype=torch.int64, device=device)
    crow[1:] = torch.cumsum(torch.bincount(seg, minlength=n) * 4, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR is beta" / invariant-check notices
        return torch.sparse_csr_tensor(crow, cols.reshape(-1), vals.reshape(-1),
                                       size=(n, h * w), check_invariants=False)


def pool_segments(feat: torch.Tensor, plan: PoolPlan) -> torch.Tensor:
    """Mean of ``feat`` (C, h, w) over each segment of ``plan`` -> (n, C) float32: one
    sparse product, its matrix built on ``feat``'s device.

    A channels-last ``feat`` avoids one transpose copy."""
    c, h, w = feat.shape
    if plan.n_segments == 0:
        return feat.new_zeros((0, c), dtype=torch.float32)
    wts = pooling_weights(plan, (h, w), feat.device)
    flat = feat.float().permute(1, 2, 0).reshape(h * w, c)  # a view when channels-last
    return wts @ flat


def segment_pool(feat: torch.Tensor, labels: np.ndarray | torch.Tensor, n_segments: int,
                 cap: int | None = DEFAULT_POOL_CAP) -> torch.Tensor:
    """Convenience: plan + pool for one (C, h, w) map."""
    return pool_segments(feat, plan_pooling(labels, n_segments, cap))
