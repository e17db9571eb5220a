"""The Colorizer API beyond plain matching: reference names, lean references, chunks of a
shot (only / chain_seed), preset banks, output names, timings and argument errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dacon_engine.colorizer import Colorizer, processing_order, target_name
from dacon_engine.errors import DaconError
from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.art import draw


def _frame(line: np.ndarray, path: str | None = None) -> SegmentedFrame:
    labels, n = segment_line_art(line)
    return SegmentedFrame(line, labels, n, None if path is None else Path(path))


def _colorizer(**kw) -> Colorizer:
    line, gt = draw(96, scale=1.25)
    c = Colorizer("baseline", **kw)
    c.add_reference(gt, line)
    return c


def test_references_are_named_in_the_order_they_are_added(tmp_path):
    line, gt = draw(64)
    c = Colorizer("baseline")
    c.add_reference(gt, line)
    c.add_reference(gt, line, name="key_A")
    c.add_reference(gt, line)
    assert c.reference_names() == ["reference0", "key_A", "reference2"]
    ready = c.references[1]
    assert isinstance(ready, Reference) and ready.name == "key_A"
    assert c.add_reference(ready) is ready  # a prepared Reference is used as it is
    assert c.reference_names()[-1] == "key_A"
    assert len(c.bank()) == 4 * ready.frame.n_segments
    assert c.source_name(1, []) == "key_A"
    # bank sources past the references are colored target frames
    assert c.source_name(4 + 2, ["a/0001.png", "a/0002.png", "a/0003.png"]) == "0003"


def test_lean_references_keep_what_matching_needs_and_match_the_same():
    tgt = draw(96, dx=3)[0]
    full, lean = _colorizer(), _colorizer(keep_reference_images=False)
    ref = lean.references[0]
    assert ref.frame.line.size == 0 and ref.frame.labels.size == 0  # no pixels kept
    assert ref.frame.n_segments == full.references[0].frame.n_segments
    np.testing.assert_array_equal(ref.colors, full.references[0].colors)
    assert ref.name == full.references[0].name
    (a,), (b,) = full.colorize([tgt]), lean.colorize([tgt])
    np.testing.assert_array_equal(a.assignment.colors, b.assignment.colors)
    np.testing.assert_array_equal(a.image(), b.image())
    assert full.references[0].frame.line.shape == (96, 96, 4)


def test_output_names_come_from_the_targets():
    line = draw(64)[0]
    assert target_name("shots/sc01/0007.png", 3) == "0007"
    assert target_name(Path("x/line_12.tga"), 0) == "line_12"
    assert target_name(_frame(line, "in/0042.png"), 5) == "0042"
    assert target_name(_frame(line), 5) == "frame0005"
    assert target_name(line, 12) == "frame0012"
    c = _colorizer()
    names = [r.name for r in c.colorize([line, _frame(line, "in/0042.png")])]
    assert names == ["frame0000", "0042"]


def test_batch_size_must_be_positive():
    c = _colorizer()
    with pytest.raises(DaconError, match="batch size 0: must be 1 or more"):
        list(c.colorize([draw(64)[0]], batch_size=0))
    assert len(list(c.colorize([draw(64)[0]] * 3, batch_size=1))) == 3


def test_only_colorizes_part_of_a_shot_and_chain_seed_continues_the_chain():
    c = _colorizer()
    same = draw(96)[0]
    frames = [_frame(same) for _ in range(4)]
    part = list(c.colorize(frames, mode="consecutive", only=[2, 3]))
    assert [r.index for r in part] == [2, 3]
    # frame 1 is not colorized here and no seed is given: frame 2 starts from the reference
    assert set(part[0].assignment.ref_index.tolist()) == {0}
    assert set(part[1].assignment.ref_index.tolist()) == {1 + 2}  # chained to frame 2

    asked = []

    def seed(i: int) -> Reference | None:
        asked.append(i)
        return Reference(frames[i], part[0].assignment.colors, name=f"earlier {i}")

    seeded = list(c.colorize(frames, mode="consecutive", only=[2, 3], chain_seed=seed))
    assert asked == [1]  # only the neighbour outside this chunk is asked for
    assert set(seeded[0].assignment.ref_index.tolist()) == {1 + 1}
    no_seed = list(c.colorize(frames, mode="consecutive", only=[2], chain_seed=lambda i: None))
    assert set(no_seed[0].assignment.ref_index.tolist()) == {0}
    assert list(c.colorize(frames, only=[])) == []


def test_a_preset_bank_replaces_the_references():
    donor = _colorizer()
    c = Colorizer("baseline")
    with pytest.raises(DaconError, match="no references"):
        c.bank()
    c.use_bank(donor.bank(), ["from the parent"])
    assert c.reference_names() == ["from the parent"]
    assert len(c.bank()) == len(donor.bank())
    (r,) = c.colorize([draw(96)[0]])
    (d,) = donor.colorize([draw(96)[0]])
    np.testing.assert_array_equal(r.assignment.colors, d.assignment.colors)


def test_timings_add_up_per_stage():
    c = _colorizer()
    assert set(c.timings) == {"features"}
    list(c.colorize([draw(96)[0]] * 2))
    first = dict(c.timings)
    assert set(first) == {"features", "segment", "graph", "match"}
    assert all(v > 0 for v in first.values())
    list(c.colorize([draw(96)[0]]))
    assert all(c.timings[k] > first[k] for k in first)  # accumulated, not replaced
    off = _colorizer(graph_refine=False)
    list(off.colorize([draw(96)[0]]))
    assert set(off.timings) == {"features", "segment", "match"}  # no graph stage


def test_nearest_falls_back_to_consecutive_without_frame_numbers():
    named = ["0001.png", "0002.png", "0003.png"]
    chain = [(0, None), (1, 0), (2, 1)]
    assert processing_order(["a.png", "b.png", "c.png"], ["0002.png"], "nearest") == chain
    assert processing_order(named, ["key.png"], "nearest") == chain
    assert processing_order(named, [], "nearest") == chain
    assert processing_order(["0001.png", "b.png"], ["0002.png"], "nearest") == [(0, None),
                                                                               (1, 0)]
    assert processing_order([], ["0001.png"], "consecutive") == []


def test_nearest_with_two_references_fills_towards_each():
    names = [f"{n:04d}.png" for n in range(1, 10)]
    order = processing_order(names, ["0002.png", "0008.png"], "nearest")
    chain = dict(order)
    assert chain == {1: None, 7: None, 0: 1, 2: 1, 6: 7, 8: 7, 3: 2, 5: 6, 4: 3}
    assert [i for i, _ in order] == [1, 7, 0, 2, 6, 8, 3, 5, 4]  # by distance, then frame


def test_nearest_mode_colors_outward_from_the_reference_frame():
    line, gt = draw(96, scale=1.25)
    c = Colorizer("baseline")
    c.add_reference(gt, line, name="0002.png")
    same = draw(96)[0]
    frames = [_frame(same, f"{n:04d}.png") for n in (1, 2, 3, 4)]
    results = list(c.colorize(frames, mode="nearest", batch_size=3))
    assert [r.index for r in results] == [1, 0, 2, 3]
    by = {r.index: set(r.assignment.ref_index.tolist()) for r in results}
    assert by == {1: {0}, 0: {1 + 1}, 2: {1 + 1}, 3: {1 + 2}}
    assert [r.name for r in results] == ["0002", "0001", "0003", "0004"]
