"""Core contracts a user relies on, each pinned so a one-line break fails the suite:
chained modes add colored frames to the bank; confidence accounts for the margin to the
best differently colored candidate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.frames import SegmentedFrame
from dacon_engine.matching.bank import MARGIN_SCALE, Bank, assign
from tests.support.art import COLORS, draw


def _chain_setup(mode: str):
    ref_line, ref_gt = draw(96, scale=1.25)      # the reference is drawn bigger
    same = draw(96)[0]                           # every target is the same drawing
    c = Colorizer("baseline")
    c.add_reference(ref_gt, ref_line, name="0004.png" if mode == "nearest" else "ref")
    return c, [SegmentedFrame(*_seg(same), path=None) for _ in range(3)]


def _seg(line):
    from dacon_engine.segmentation.segments import segment_line_art

    labels, n = segment_line_art(line)
    return line, labels, n


@pytest.mark.parametrize("mode", ["consecutive", "nearest"])
def test_chained_modes_match_against_the_previous_colored_frame(mode):
    c, frames = _chain_setup(mode)
    if mode == "nearest":  # frame numbers 1..3, reference frame 4: colored 3, 2, 1
        for k, f in enumerate(frames, start=1):
            f.path = Path(f"{k:04d}.png")
    results = {r.index: r for r in c.colorize(frames, mode=mode, batch_size=2)}
    first, later = (0, [1, 2]) if mode == "consecutive" else (2, [1, 0])
    assert set(results[first].assignment.ref_index.tolist()) == {0}  # the reference only
    for i in later:
        neighbour = i - 1 if mode == "consecutive" else i + 1
        a = results[i].assignment
        # an identical, already colored frame beats the (bigger) reference everywhere
        assert set(a.ref_index.tolist()) == {1 + neighbour}, i
        np.testing.assert_array_equal(a.ref_segment, np.arange(1, len(a.ref_segment) + 1))
        np.testing.assert_allclose(a.similarity, 1.0, atol=1e-6)


def test_keyframe_mode_never_uses_colored_frames():
    c, frames = _chain_setup("keyframe")
    for r in c.colorize(frames, mode="keyframe"):
        assert set(r.assignment.ref_index.tolist()) == {0}


def _bank(colors: list[tuple[int, int, int, int]]) -> Bank:
    n = len(colors)
    return Bank(torch.zeros(n, 2), np.asarray(colors, np.uint8), np.zeros(n, np.int64),
                np.arange(1, n + 1, dtype=np.int64))


RED, BLUE = (255, 0, 0, 255), (0, 0, 255, 255)


@pytest.mark.parametrize("sims,colors,expected", [
    ([0.9, 0.9], [RED, BLUE], 0.0),                        # a tie between two colors
    ([0.9, 0.9], [RED, RED], 0.9),                         # a tie of one color: no doubt
    ([0.9, 0.85], [RED, BLUE], 0.9 * np.sqrt(0.05 / MARGIN_SCALE)),
    ([0.9, 0.7], [RED, BLUE], 0.9),                        # margin >= MARGIN_SCALE: full
    ([0.6, 0.95, 0.88], [RED, BLUE, RED], 0.95 * np.sqrt(0.07 / MARGIN_SCALE)),  # best other
    ([0.5], [RED], 0.5),                                   # a one-color bank
])
def test_confidence_accounts_for_the_best_other_color(sims, colors, expected):
    a = assign(torch.tensor([sims], dtype=torch.float32), _bank(colors))
    assert a.confidence[0] == pytest.approx(expected, abs=1e-6)
    assert a.similarity[0] == pytest.approx(max(sims), abs=1e-6)


def test_twin_references_of_different_colors_give_zero_confidence():
    """The same drawing painted two ways: every segment whose two candidates differ in
    color is reported as doubtful; segments painted alike stay confident."""
    line, gt = draw(96)
    other = gt.copy()
    other[np.all(gt == COLORS["face"], axis=-1)] = (10, 200, 10, 255)  # a green face
    c = Colorizer("baseline")
    c.add_reference(gt, line)
    c.add_reference(other, line)
    (r,) = list(c.colorize([line]))
    faces = r.assignment.colors
    face_rows = np.where(np.all(c.references[0].colors == COLORS["face"], axis=1))[0]
    assert len(face_rows) == 1
    assert r.assignment.confidence[face_rows[0]] == 0.0
    others = np.setdiff1d(np.arange(len(faces)), face_rows)
    assert np.all(r.assignment.confidence[others] > 0.5)
