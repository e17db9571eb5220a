"""The Colorizer API with the geometric baseline: matching, modes and provenance."""

from __future__ import annotations

import numpy as np
import pytest

from dacon_engine.colorizer import Colorizer, processing_order
from dacon_engine.frames import SegmentedFrame
from dacon_engine.matching.baseline import GeometricBaseline, moment_features
from tests.support.art import draw


def _frame(labels: np.ndarray) -> SegmentedFrame:
    line = np.zeros(labels.shape + (4,), np.uint8)
    return SegmentedFrame(line, labels.astype(np.int32), int(labels.max()))


def test_moment_features_are_box_aligned():
    a = np.zeros((40, 40), np.int32)
    a[:] = 1
    a[10:20, 10:20] = 2
    a[[9, 20], 9:21] = 0
    a[9:21, [9, 20]] = 0
    b = np.pad(a, ((5, 0), (7, 0)), constant_values=1)[:40, :40]  # same drawing, shifted
    fa, fb = moment_features(_frame(a)), moment_features(_frame(b))
    np.testing.assert_allclose(fa[1], fb[1], atol=1e-6)  # inner square: identical features
    assert fa.shape == (2, 5)


def test_baseline_colorizes_shifted_drawing():
    ref_line, ref_gt = draw(96)
    tgt_line, tgt_gt = draw(96, dx=6, dy=-4)
    c = Colorizer("baseline")
    c.add_reference(ref_gt, ref_line)
    (res,) = list(c.colorize([tgt_line]))
    out = res.image()
    line_px = res.frame.labels == 0
    # lines copied exactly, every named part gets its own color
    np.testing.assert_array_equal(out[line_px], tgt_line[line_px])
    inside = ~line_px
    assert (np.all(out[inside] == tgt_gt[inside], axis=1)).mean() > 0.98
    assert res.assignment.confidence.shape == (res.frame.n_segments,)
    assert np.all((res.assignment.confidence >= 0) & (res.assignment.confidence <= 1))
    assert set(res.assignment.ref_index.tolist()) == {0}


@pytest.mark.parametrize("n_refs", [1, 2, 7])
def test_any_number_of_references(n_refs):
    c = Colorizer("baseline")
    for k in range(n_refs):
        line, gt = draw(96, dx=k - n_refs // 2)
        c.add_reference(gt, line)
    line, gt = draw(96, dx=1, dy=1)
    (res,) = list(c.colorize([line]))
    assert len(c._bank()) == sum(r.frame.n_segments for r in c.references)
    assert res.assignment.ref_index.max() < n_refs
    inside = res.frame.labels > 0
    assert (np.all(res.image()[inside] == gt[inside], axis=1)).mean() > 0.98


def test_consecutive_mode_chains_previous_frame():
    ref_line, ref_gt = draw(96)
    frames = [draw(96, dx=3 * k)[0] for k in range(1, 5)]
    c = Colorizer("baseline")
    c.add_reference(ref_gt, ref_line)
    results = list(c.colorize(frames, mode="consecutive", batch_size=3))
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert set(results[0].assignment.ref_index.tolist()) == {0}
    # later frames may borrow from the previous colored frame (bank index 1 + i)
    assert set(results[3].assignment.ref_index.tolist()) <= {0, 1 + 2}


def test_processing_order_modes():
    names = ["0001.png", "0002.png", "0003.png", "0004.png", "0005.png"]
    assert processing_order(names, ["0005.png"], "keyframe") == [(i, None) for i in range(5)]
    assert processing_order(names, [], "consecutive")[2] == (2, 1)
    order = processing_order(names, ["ref_0005.png"], "nearest")
    assert order[0] == (4, None)                       # frame 5 sits on the reference
    assert [i for i, _ in order] == [4, 3, 2, 1, 0]    # then outward
    assert dict(order)[0] == 1
    mid = processing_order(names, ["0003.png"], "nearest")
    assert dict(mid) == {2: None, 1: 2, 3: 2, 0: 1, 4: 3}


def test_unknown_mode_is_a_clear_error():
    from dacon_engine.errors import DaconError

    line, gt = draw(64)
    c = Colorizer("baseline")
    c.add_reference(gt, line)
    with pytest.raises(DaconError, match="unknown mode"):
        list(c.colorize([line], mode="sideways"))


def test_no_references_is_a_clear_error():
    from dacon_engine.errors import DaconError

    with pytest.raises(DaconError, match="no references"):
        list(Colorizer("baseline").colorize([draw(64)[0]]))


def test_baseline_similarity_range():
    b = GeometricBaseline()
    f = b.segment_features([_frame(np.arange(16, dtype=np.int32).reshape(4, 4))])[0]
    s = b.similarity(f, f)
    assert s.shape == (15, 15)
    assert float(s.min()) >= 0 and float(s.max()) <= 1
    assert np.allclose(np.diag(s.numpy()), 1.0)
