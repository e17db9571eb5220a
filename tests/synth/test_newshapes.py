"""New closed shapes drawn inside regions (dacon_engine.synth.newshapes)."""

from __future__ import annotations

import numpy as np
import pytest

from dacon_engine.segmentation.references import segment_colors
from dacon_engine.segmentation.segments import line_mask, segment_line_art
from dacon_engine.synth.newshapes import insert_shapes, line_width


def _frame(width: int = 2, size: int = 160):
    """Two big boxes side by side (black lines ``width`` px), gt red / blue, paper clear."""
    line = np.full((size, size, 4), (255, 255, 255, 0), np.uint8)
    gt = np.zeros((size, size, 4), np.uint8)
    for x0, color in ((10, (200, 30, 30, 255)), (85, (30, 30, 200, 255))):
        gt[10:150, x0:x0 + 65] = color
        for sl in ((slice(10, 10 + width), slice(x0, x0 + 65)),
                   (slice(150 - width, 150), slice(x0, x0 + 65)),
                   (slice(10, 150), slice(x0, x0 + width)),
                   (slice(10, 150), slice(x0 + 65 - width, x0 + 65))):
            line[sl] = (0, 0, 0, 255)
            gt[sl] = (0, 0, 0, 255)
    return line, gt


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_line_width_is_the_stroke_width(width):
    line, _ = _frame(width)
    assert line_width(line_mask(line)) == width


def test_each_shape_is_one_new_segment_inside_one_region_at_the_line_width():
    line, gt = _frame(3)
    before_line, before_gt = line.copy(), gt.copy()
    labels0, n0 = segment_line_art(line)
    out_line, out_gt, k = insert_shapes(line, gt, np.random.default_rng(1), n=3)
    assert np.array_equal(line, before_line) and np.array_equal(gt, before_gt)  # copies
    assert k == 3
    labels, n = segment_line_art(out_line)
    assert n == n0 + k  # each shape closes one new region; no region is cut in two
    changed = np.any(out_line != line, axis=2)
    assert np.all(out_line[changed] == (0, 0, 0, 255))  # only opaque black outlines added
    assert np.all(out_gt[changed] == (0, 0, 0, 255))
    # no new line touches an old one: a line width of paper stays between them
    import cv2
    near = cv2.dilate(line_mask(line).view(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert not (changed & near).any()
    # outlines at the drawing's width: 3 px strokes have pixels 2 px from paper, 1 px none
    dist = cv2.distanceTransform(changed.view(np.uint8), cv2.DIST_L2, 5)[changed]
    assert np.percentile(dist, 90) >= 2
    thin = _frame(1)[0]
    thin_changed = np.any(insert_shapes(thin, gt, np.random.default_rng(1))[0] != thin, axis=2)
    assert cv2.distanceTransform(thin_changed.view(np.uint8), cv2.DIST_L2, 5).max() == 1
    # every old segment keeps its color; every segment of the result is one color
    colors = segment_colors(labels, n, out_gt)
    for lab in range(1, n + 1):
        assert len(np.unique(out_gt[labels == lab].view(np.uint32))) == 1
    assert {tuple(c) for c in segment_colors(labels0, n0, gt)} <= {tuple(c) for c in colors}


@pytest.mark.parametrize("same_color", [0.0, 1.0])
def test_inside_is_the_region_color_or_one_no_frame_has(same_color):
    line, gt = _frame()
    old = {tuple(c) for c in gt.reshape(-1, 4)}
    out_line, out_gt, k = insert_shapes(line, gt, np.random.default_rng(7), n=2,
                                        same_color=same_color)
    labels, n = segment_line_art(out_line)
    labels0, n0 = segment_line_art(line)
    assert n == n0 + k
    colors = {tuple(c) for c in segment_colors(labels, n, out_gt)}
    if same_color:
        assert colors == {tuple(c) for c in segment_colors(labels0, n0, gt)}
    else:
        fresh = colors - old
        assert len(fresh) == k == 2
        assert all(c[3] == 255 for c in fresh)


def test_same_seed_same_shapes_and_no_room_means_none():
    line, gt = _frame()
    a = insert_shapes(line, gt, np.random.default_rng(3))
    b = insert_shapes(line, gt, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # a grid of 8 px cells: no region is wide enough for a shape with paper around it
    grid = np.full((64, 64, 4), 255, np.uint8)
    grid[::8] = (0, 0, 0, 255)
    grid[:, ::8] = (0, 0, 0, 255)
    out_line, _, k = insert_shapes(grid, np.zeros_like(grid), np.random.default_rng(0))
    assert k == 0 and np.array_equal(out_line, grid)
