"""Mirrored references: the flipped frame, the per-frame choice, and the Colorizer hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.errors import DaconError
from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.matching.mirror import MARGIN, mirrored_frame, prefer_mirror

STRIPS = np.array([[1, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 0, 5, 5]] * 3, np.int32)
COLORS = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255],
                   [255, 255, 0, 255], [0, 255, 255, 255]], np.uint8)
SWAP = [4, 3, 2, 1, 0]


def strip_frame(name: str) -> SegmentedFrame:
    line = np.full(STRIPS.shape + (4,), 255, np.uint8)
    line[STRIPS == 0] = (0, 0, 0, 255)
    line[0, 0] = (9, 9, 9, 255)  # asymmetric ink, to see the flip
    return SegmentedFrame(line, STRIPS.copy(), 5, path=Path(name), line_art={"mode": "fixed"})


def test_mirrored_frame_flips_pixels_and_keeps_the_segments():
    f = strip_frame("a.png")
    m = mirrored_frame(f)
    np.testing.assert_array_equal(m.labels, f.labels[:, ::-1])
    np.testing.assert_array_equal(m.line, f.line[:, ::-1])
    assert m.labels.flags.c_contiguous and m.line.flags.c_contiguous
    assert (m.n_segments, m.path, m.line_art) == (5, Path("a.png"), {"mode": "fixed"})
    assert m.line_art is not f.line_art
    np.testing.assert_array_equal(f.line[0, 0], [9, 9, 9, 255])  # the input is unchanged


def test_prefer_mirror_needs_a_clear_gain():
    drawn = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    assert prefer_mirror(drawn, drawn + 0.05)
    assert not prefer_mirror(drawn, drawn)
    spread = float(drawn.std(unbiased=False))
    assert not prefer_mirror(drawn, drawn + 0.9 * MARGIN * spread)
    assert prefer_mirror(drawn, drawn + 1.1 * MARGIN * spread)
    assert not prefer_mirror(drawn, drawn + 0.05, margin=1.0)
    # the mean of each row's best, not any single value
    assert not prefer_mirror(drawn, torch.tensor([[0.99, 0.0], [0.0, 0.0]]))
    assert not prefer_mirror(torch.zeros(0, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match="differ"):
        prefer_mirror(drawn, torch.zeros(2, 3))


class FlipAware:
    """Features looked up by frame name and whether its ink was flipped."""

    name = "flip-aware"

    def __init__(self, table: dict[str, torch.Tensor]):
        self.table = table

    def segment_features(self, frames):
        out = []
        for f in frames:
            flipped = tuple(f.line[0, -1]) == (9, 9, 9, 255)
            out.append(self.table[f"{Path(f.path).stem}{':m' if flipped else ''}"])
        return out

    def similarity(self, target, bank):
        return target.float() @ bank.float().T


def table() -> dict[str, torch.Tensor]:
    eye, zero = torch.eye(5), torch.zeros(5, 5)
    return {"ref": torch.cat([eye, zero], 1),            # as drawn
            "ref:m": torch.cat([zero, eye], 1),          # mirrored
            # a mirrored pose: as drawn it looks like the swapped strips, mirrored it fits
            "t": torch.cat([0.5 * eye[SWAP], 0.9 * eye], 1)}


def colorizer(mirror: bool, feats: dict | None = None) -> Colorizer:
    c = Colorizer(FlipAware(feats or table()), graph_refine=False, mirror=mirror)
    c.add_reference(Reference(strip_frame("ref.png"), COLORS.copy(), "ref"))
    return c


def test_a_mirrored_pose_takes_the_mirrored_references():
    on = next(colorizer(True).colorize([strip_frame("t.png")]))
    off = next(colorizer(False).colorize([strip_frame("t.png")]))
    assert on.mirrored is True and off.mirrored is False  # a boolean in the record
    np.testing.assert_array_equal(on.assignment.colors, COLORS)
    np.testing.assert_array_equal(off.assignment.colors, COLORS[SWAP])
    np.testing.assert_allclose(on.assignment.similarity, 0.9)
    assert on.assignment.ref_index.tolist() == [0] * 5  # the reference's own rows
    assert colorizer(False).mirror_bank_features() is None
    assert torch.equal(colorizer(True).mirror_bank_features(), table()["ref:m"])



def test_the_record_says_how_each_frame_was_matched():
    """The JSON record's ``matching``: the switches and whether this frame was mirrored."""
    on, off = colorizer(True), colorizer(False)
    assert on.matching_record(next(on.colorize([strip_frame("t.png")]))) == \
        {"graph_refine": False, "mirror": True, "mirrored": True}
    assert off.matching_record(next(off.colorize([strip_frame("t.png")]))) == \
        {"graph_refine": False, "mirror": False, "mirrored": False}
    refined = Colorizer(FlipAware(table()), mirror=False)
    refined.add_reference(Reference(strip_frame("ref.png"), COLORS.copy(), "ref"))
    rec = refined.matching_record(next(refined.colorize([strip_frame("t.png")])))
    assert rec == {"graph_refine": True, "mirror": False, "mirrored": False}


def test_a_pose_as_drawn_keeps_the_references_as_drawn():
    feats = {**table(), "t": torch.cat([0.9 * torch.eye(5), 0.5 * torch.eye(5)[SWAP]], 1)}
    res = next(colorizer(True, feats).colorize([strip_frame("t.png")]))
    assert not res.mirrored
    np.testing.assert_array_equal(res.assignment.colors, COLORS)


def test_chained_frames_keep_their_own_rows_next_to_the_mirrored_references():
    eye, zero = torch.eye(5), torch.zeros(5, 5)
    feats = {"ref": torch.cat([eye, zero, zero], 1), "ref:m": torch.cat([zero, eye, zero], 1),
             "t": torch.cat([0.5 * eye[SWAP], 0.9 * eye, eye], 1),
             # t2 fits the colored t (its strips swapped: similarity 1 and more) better
             # than the mirrored references (0.6)
             "t2": torch.cat([zero, 0.6 * eye, eye[SWAP]], 1)}
    c = colorizer(True, feats)
    r1, r2 = c.colorize([strip_frame("t.png"), strip_frame("t2.png")], mode="consecutive")
    assert r1.mirrored and r2.mirrored
    np.testing.assert_array_equal(r1.assignment.colors, COLORS)
    assert r2.assignment.ref_index.tolist() == [1] * 5  # the colored frame, not the refs
    np.testing.assert_array_equal(r2.assignment.colors, COLORS[SWAP])


def test_preset_banks_mirror_only_with_the_mirrored_features():
    donor = colorizer(True)
    c = Colorizer(donor.featurizer, graph_refine=False)
    c.use_bank(donor.bank(), ["ref"], None, donor.mirror_bank_features())
    assert next(c.colorize([strip_frame("t.png")])).mirrored
    c.use_bank(donor.bank(), ["ref"])
    assert c.mirror_bank_features() is None
    assert not next(c.colorize([strip_frame("t.png")])).mirrored


def test_mirror_must_be_a_boolean():
    with pytest.raises(DaconError, match="mirror 1: must be true or false"):
        Colorizer("baseline", mirror=1)
    with pytest.raises(DaconError, match="graph_refine 'yes': must be true or false"):
        Colorizer("baseline", graph_refine="yes")
