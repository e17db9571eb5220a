"""Segment pooling vs a slow dense reference (masks, max-pool, bilinear resize, mean)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dacon_engine.model.pooling as P
from dacon_engine.model.pooling import plan_pooling, pool_grid, pool_segments, segment_pool


def slow_pool(feat, labels, n, cap):
    """Dense reference: one mask per segment, max-pooled to the grid (remainder rows/cols
    belong to the last cell), feature map resized bilinearly to the grid, masked mean."""
    H, W = labels.shape
    kh, kw, ho, wo = pool_grid((H, W), cap)
    rf = F.interpolate(feat[None].double(), size=(ho, wo), mode="bilinear", align_corners=False)[0]
    out = torch.zeros(n, feat.shape[0], dtype=torch.float64)
    for s in range(n):
        m = torch.from_numpy(labels == s + 1).double()[None, None]
        main = F.max_pool2d(m[..., : ho * kh, : wo * kw], (kh, kw))[0, 0] > 0
        cm = main.clone()
        if H > ho * kh:  # remainder rows -> last cell row
            rows = m[0, 0, ho * kh:, :].amax(0) > 0
            cm[-1] |= torch.stack([rows[j * kw:(j + 1) * kw if j < wo - 1 else W].any() for j in range(wo)])
        if W > wo * kw:
            cols = m[0, 0, : ho * kh, wo * kw:].amax(1) > 0
            cm[:, -1] |= torch.stack([cols[i * kh:(i + 1) * kh].any() for i in range(ho)])
        if cm.any():
            out[s] = rf[:, cm].mean(1)
    return out.float()


def blocky_labels(rng, H, W, n, block=4):
    lab = rng.integers(0, n, size=(H // block + 1, W // block + 1))
    lab = np.kron(lab, np.ones((block, block), np.int64))[:H, :W]
    lab[rng.random((H, W)) < 0.05] = 0
    lab[1, 2] = n  # one-pixel segment
    return lab.astype(np.int32)


CASES = [  # H, W, cap, feature map size
    (64, 64, 512, (5, 5)),     # full resolution, upsampled 5x5 map
    (64, 64, 16, (64, 64)),    # k = 4, same size map
    (67, 53, 20, (7, 9)),      # k = 3 / 2 with remainder rows and columns
    (50, 61, 16, (40, 80)),    # downsampling map
    (37, 45, None, (9, 11)),   # cap None = full resolution (v1.0)
]


@pytest.mark.parametrize("H,W,cap,fsize", CASES)
@pytest.mark.parametrize("dense", [True, False])
def test_matches_slow_reference(H, W, cap, fsize, dense, monkeypatch):
    rng = np.random.default_rng(H * W)
    n = 14
    lab = blocky_labels(rng, H, W, n - 1)
    lab[lab == 5] = 0  # label 5 has no pixel at all -> zero vector
    feat = torch.randn(6, *fsize)
    if not dense:
        monkeypatch.setattr(P, "_DENSE_LIMIT", 0)  # force the sparse CSR path
    got = segment_pool(feat, lab, n, cap)
    want = slow_pool(feat, lab, n, cap)
    assert got.shape == (n, 6)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.all(got[4] == 0)


def test_small_segment_survives_max_pool():
    lab = np.ones((1024, 1024), np.int32)
    lab[500, 500] = 2  # one pixel, k = 2 grid
    plan = plan_pooling(lab, 2)
    assert plan.grid == (512, 512)
    assert plan.counts.tolist() == [512 * 512, 1]  # the cell is shared by both segments
    feat = torch.arange(4.0).view(1, 2, 2)
    out = pool_segments(feat, plan)
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_grid_rule():
    assert pool_grid((1920, 1920)) == (3, 3, 640, 640)
    assert pool_grid((1080, 1920)) == (2, 3, 540, 640)
    assert pool_grid((1000, 700)) == (1, 1, 1000, 700)
    assert pool_grid((1920, 1920), None) == (1, 1, 1920, 1920)


def test_frames_of_different_sizes_and_counts():
    rng = np.random.default_rng(1)
    for H, W, n in [(40, 30, 3), (64, 80, 20), (33, 33, 1)]:
        lab = blocky_labels(rng, H, W, n)
        feat = torch.randn(4, 8, 8)
        assert torch.allclose(segment_pool(feat, lab, n + 1, 16), slow_pool(feat, lab, n + 1, 16), atol=1e-5)


def test_no_segments():
    lab = np.zeros((20, 20), np.int32)
    out = segment_pool(torch.randn(3, 4, 4), lab, 0)
    assert out.shape == (0, 3)


def test_label_above_count_rejected():
    with pytest.raises(ValueError):
        plan_pooling(np.full((4, 4), 3, np.int32), 2)


@pytest.mark.parametrize("dense", [True, False])
def test_gradients_flow_and_channels_last(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(P, "_DENSE_LIMIT", 0)
    rng = np.random.default_rng(5)
    lab = blocky_labels(rng, 40, 40, 5)
    f = torch.randn(3, 8, 8, requires_grad=True)
    out = segment_pool(f, lab, 5, 16)
    out.sum().backward()
    assert torch.allclose(f.grad.sum(), torch.tensor(5.0 * 3))  # each segment's weights sum to 1
    cl = f.detach()[None].contiguous(memory_format=torch.channels_last)[0]
    assert torch.allclose(segment_pool(cl, lab, 5, 16), out.detach(), atol=1e-6)


@pytest.mark.parametrize("shape, cap", [((1920, 1920), 512), ((2, 40000), None)])
def test_a_pickled_plan_is_the_same_plan(shape, cap):
    """Plans cross process boundaries (stage workers) in a compact form: cell coordinates
    as int16, or int32 on a grid wider than int16 holds (full-resolution pooling)."""
    import pickle

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 50, shape).astype(np.int32)
    plan = plan_pooling(labels, 49, cap)
    back = pickle.loads(pickle.dumps(plan))
    assert back.n_segments == plan.n_segments and back.grid == plan.grid
    for k in ("cell_y", "cell_x", "seg", "counts"):
        a, b = getattr(plan, k), getattr(back, k)
        assert a.dtype == b.dtype and torch.equal(a, b), k
