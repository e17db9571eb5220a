"""Magnified views of line art (close-ups drawn with the same pen) and references seen
magnified in the bank."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dacon_engine.segmentation.references import segment_colors
from dacon_engine.segmentation.segments import segment_line_art
from dacon_engine.segmentation.zoom import (
    fill_lines,
    magnify,
    pen_width,
    redraw,
    zoomed_windows,
)
from tests.support.art import draw


def rings(size: int = 160, width: int = 1) -> np.ndarray:
    """Three concentric rings exactly ``width`` px wide (radially)."""
    line = np.zeros((size, size, 4), np.uint8)
    line[..., :3] = 255
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(xx - size // 2, yy - size // 2)
    for r in (20, 45, 70):
        line[np.abs(np.round(d) - r) <= (width - 1) / 2] = (0, 0, 0, 255)
    return line


@pytest.mark.parametrize("width", [1, 3, 5])
def test_pen_width_is_the_stroke_width(width):
    assert abs(pen_width(rings(width=width)) - width) <= 1


def test_redraw_keeps_closed_regions_closed_at_its_width():
    line = rings(width=7)
    _, n_thick = segment_line_art(line)
    ink = line[..., 3] > 0
    thin = redraw(ink, 2)
    assert thin.sum() < ink.sum() / 2
    redrawn = np.zeros_like(line)
    redrawn[..., :3] = 255
    redrawn[thin] = (0, 0, 0, 255)
    assert segment_line_art(redrawn)[1] == n_thick == 4


def test_magnify_grows_the_window_but_not_the_pen():
    line, gt = draw(96)
    box = (24, 24, 48, 48)
    big_line, big_gt = magnify(line, gt, box, width=1)
    assert big_line.shape == line.shape and big_gt.shape == gt.shape
    assert 0.5 <= pen_width(big_line) <= 1.5  # the pen of the original, not 2x it
    assert set(map(tuple, big_gt.reshape(-1, 4))) <= set(map(tuple, gt.reshape(-1, 4)))
    assert (big_gt[::2, ::2] == gt[24:72, 24:72]).all()  # nearest: flat colors exact
    assert magnify(line, None, box, 1)[1] is None


def test_windows_tile_the_drawing_inside_the_frame():
    line = rings(200)
    ys, xs = np.nonzero(line[..., 3])
    for zoom in (2.0, 3.0):
        boxes = zoomed_windows(line, zoom)
        cover = np.zeros(line.shape[:2], bool)
        for x, y, w, h in boxes:
            assert (w, h) == (round(200 / zoom),) * 2
            assert 0 <= x <= 200 - w and 0 <= y <= 200 - h
            cover[y:y + h, x:x + w] = True
        assert cover[ys, xs].all()
        assert len(boxes) == {2.0: 4, 3.0: 9}[zoom]
    assert zoomed_windows(np.zeros((20, 20, 4), np.uint8), 2) == []


def test_fill_lines_gives_line_pixels_the_nearest_fill():
    labels = np.array([[1, 1, 0, 0, 2, 2]], np.int32)
    colors = np.array([[255, 0, 0, 255], [0, 0, 255, 255]], np.uint8)
    out = fill_lines(labels, colors)
    assert out[0, :3].tolist() == [[255, 0, 0, 255]] * 3
    assert out[0, 4:].tolist() == [[0, 0, 255, 255]] * 2
    assert fill_lines(np.zeros((2, 2), np.int32), colors[:0]).sum() == 0


def test_a_close_up_matches_the_reference_seen_magnified():
    from dacon_engine.colorizer import Colorizer

    line, gt = draw(128)
    box = zoomed_windows(line, 2)[0]
    t_line, t_gt = magnify(line, gt, box, pen_width(line))
    labels, n = segment_line_art(t_line)
    truth = segment_colors(labels, n, t_gt)

    def acc(c: Colorizer) -> float:
        c.add_reference(gt, line)
        result = next(iter(c.colorize([t_line])))
        return float((result.assignment.colors == truth).all(axis=1).mean())

    zoomed = Colorizer("baseline", reference_zooms=(2,))
    assert acc(zoomed) == 1.0
    assert [n for n in zoomed.reference_names() if "@2x" in n] == \
        [f"reference0@2x{k}" for k in range(len(zoomed_windows(line, 2)))]
    assert acc(Colorizer("baseline")) < 1.0


def test_frames_at_the_references_scale_ignore_the_magnified_views():
    from dacon_engine.colorizer import Colorizer

    line, gt = draw(128)
    shifted, _ = draw(128, dx=3, dy=-2)
    results = []
    for zooms in ((), (2,)):
        c = Colorizer("baseline", reference_zooms=zooms)
        c.add_reference(gt, line)
        results.append(next(iter(c.colorize([shifted]))))
    plain, zoomed = results
    assert zoomed.zoomed is False and plain.zoomed is False
    assert (zoomed.assignment.colors == plain.assignment.colors).all()
    assert (zoomed.assignment.confidence == plain.assignment.confidence).all()  # exactly
    assert (zoomed.assignment.ref_index == 0).all()  # never a magnified view's segment


def test_prefer_views_needs_a_clear_gain():
    from dacon_engine.matching.mirror import prefer_views

    drawn = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    views = torch.tensor([False, False, True])
    close = torch.cat([drawn, torch.tensor([[0.905], [0.805]])], 1)  # a near tie
    better = torch.cat([drawn, torch.tensor([[0.99], [0.97]])], 1)
    assert not prefer_views(close, views)
    assert prefer_views(better, views)
    assert not prefer_views(better, torch.zeros(3, dtype=torch.bool))
    assert not prefer_views(better[:0], views)
