"""References as a user hands them over: image kinds, options passed through to the
segmentation (gap radius, line options), paths kept for messages and outputs, pairing of
color and line files, clip layouts and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import as_rgba
from dacon_engine.options import LineOptions
from dacon_engine.segmentation.references import (
    expand_reference_paths,
    find_clip_layout,
    load_reference,
    load_references,
    pack_rgba,
    reference_from_arrays,
    segment_colors,
    unpack_rgba,
)
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.art import draw
from tests.support.clips import save


def _gapped(line: np.ndarray) -> np.ndarray:
    """A line across the hat that stops 1 px short of its outline (closed by radius 1)."""
    out = line.copy()
    cv2.line(out, (26, 9), (68, 9), (0, 0, 0, 255), 1)
    return out


YELLOW = LineOptions(trace_colors=("yellow",))


def _traced(line: np.ndarray) -> np.ndarray:
    """A yellow line across the hat: a line only with ``line_options=YELLOW``."""
    out = line.copy()
    cv2.line(out, (26, 9), (70, 9), (255, 255, 0, 255), 1)
    return out


def test_gray_rgb_and_rgba_images_become_rgba():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = as_rgba(gray)
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    assert (out[..., 0] == gray).all() and (out[..., 1] == gray).all()
    assert (out[..., 2] == gray).all() and (out[..., 3] == 255).all()
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert (as_rgba(rgb)[..., 3] == 255).all()
    rgba = np.zeros((3, 4, 4), np.uint8)
    assert (as_rgba(rgba) == rgba).all()


def test_other_images_are_refused_with_what_was_given():
    with pytest.raises(ValueError) as err:
        as_rgba(np.zeros((3, 4), np.float32))
    assert str(err.value) == "expected a uint8 image, got float32"
    for shape in ((3, 4, 2), (3, 4, 5), (2, 3, 4, 4)):
        with pytest.raises(ValueError) as err:
            as_rgba(np.zeros(shape, np.uint8))
        assert str(err.value) == f"expected an HxW, HxWx3 or HxWx4 image, got shape {shape}"


def test_color_ids_unpack_to_rgba_in_any_shape():
    rgba = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    back = unpack_rgba(pack_rgba(rgba))
    assert back.dtype == np.uint8 and back.shape == (5, 6, 4)
    np.testing.assert_array_equal(back, rgba)


def test_segment_colors_refuses_a_color_frame_of_another_size():
    with pytest.raises(ValueError) as err:
        segment_colors(np.ones((4, 4), np.int32), 1, np.zeros((5, 4, 4), np.uint8))
    assert str(err.value) == "color (5, 4) and labels (4, 4) differ in size"


def test_options_reach_the_segmentation_of_file_references(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "gt" / "0001.png", gt)
    gapped = save(tmp_path / "gap" / "0001.png", _gapped(line))
    traced = save(tmp_path / "trace" / "0001.png", _traced(line))
    n0, n1 = segment_line_art(_gapped(line))[1], segment_line_art(_gapped(line), gap_radius=1)[1]
    assert n0 != n1
    assert load_reference(color_file, gapped).frame.n_segments == n0  # no gap closing unless asked
    assert load_reference(color_file, gapped, gap_radius=1).frame.n_segments == n1
    refs = load_references([color_file, color_file], [gapped, traced], gap_radius=1)
    assert refs[0].frame.n_segments == n1 and refs[0].frame.path == gapped
    assert refs[1].frame.path == traced
    assert [r.frame.n_segments for r in load_references([color_file], [gapped])] == [n0]
    t0, t1 = segment_line_art(_traced(line))[1], segment_line_art(
        _traced(line), line_options=YELLOW)[1]
    assert t0 != t1
    assert load_reference(color_file, traced, line_options=YELLOW).frame.n_segments == t1
    assert reference_from_arrays(gt, _gapped(line)).frame.n_segments == n0


def test_a_reference_remembers_where_it_came_from(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "gt" / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    ref = load_reference(color_file, line_file)
    assert ref.frame.path == line_file and ref.color_path == color_file
    assert ref.extra["line_path"] == str(line_file)
    alone = load_reference(color_file)  # segmented from its colors
    assert alone.frame.path == color_file and "line_path" not in alone.extra
    assert reference_from_arrays(gt, line).name == ""
    assert reference_from_arrays(gt, line).frame.path is None


def test_segmentation_errors_name_the_file_they_are_about(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "gt" / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    with pytest.raises(DaconError) as err:
        load_reference(color_file, line_file, gap_radius=60)
    assert err.value.path == str(line_file) and "--gap-radius 60: too large" in str(err.value)
    black = save(tmp_path / "black.png", np.full((8, 8, 4), (0, 0, 0, 255), np.uint8))
    with pytest.raises(DaconError) as err:
        load_reference(black)
    assert err.value.path == str(black) and "no regions found" in str(err.value)


def test_size_mismatch_of_in_memory_references():
    color = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(DaconError) as err:
        reference_from_arrays(color, np.zeros((8, 6, 4), np.uint8))
    assert str(err.value) == "reference: size 8x8 does not match line art 6x8"
    with pytest.raises(DaconError) as err:
        reference_from_arrays(color, np.zeros((8, 6, 4), np.uint8), line_path="l.png")
    assert str(err.value) == "reference: size 8x8 does not match line art l.png 6x8"


def test_line_files_pair_with_color_files_by_position(tmp_path):
    line, gt = draw(32)
    colors = [save(tmp_path / "gt" / f"{k:04d}.png", gt) for k in (1, 2)]
    lines = [save(tmp_path / "line" / f"{k:04d}.png", line) for k in (1, 2, 3)]
    assert expand_reference_paths([tmp_path / "gt"], lines[:2]) == list(zip(colors, lines[:2]))
    assert expand_reference_paths(colors, [lines[0]]) == [(colors[0], lines[0]),
                                                          (colors[1], None)]
    with pytest.raises(DaconError) as err:
        expand_reference_paths([colors[0]], [None, lines[1]])
    assert str(err.value) == (f"{lines[1]}: more reference line-art files (2) than reference "
                              "color frames (1)")
    with pytest.raises(DaconError) as err:  # extra "no line art" slots count too
        expand_reference_paths([colors[0]], [None, None])
    assert str(err.value) == ("more reference line-art files (2) than reference color "
                              "frames (1)")
    with pytest.raises(DaconError) as err:
        expand_reference_paths([], [])
    assert str(err.value) == "no reference color frames given"


def test_clip_layout_errors_name_the_empty_folder(tmp_path):
    line = draw(32)[0]
    dacon = tmp_path / "dacon"
    save(dacon / "line" / "0001.png", line)
    (dacon / "ref" / "gt").mkdir(parents=True)
    with pytest.raises(DaconError) as err:
        find_clip_layout(dacon)
    assert str(err.value) == f"{dacon / 'ref' / 'gt'}: reference folder holds no image files"
    keys = tmp_path / "basicpbc"
    save(keys / "line" / "0001.png", line)
    (keys / "gt").mkdir(parents=True)
    with pytest.raises(DaconError) as err:
        find_clip_layout(keys)
    assert str(err.value) == f"{keys / 'gt'}: key-frame folder holds no image files"
    save(keys / "gt" / "0001.png", line)  # the only line frame is the key frame
    with pytest.raises(DaconError) as err:
        find_clip_layout(keys)
    assert str(err.value) == f"{keys / 'line'}: folder holds no target line-art frames"


def test_dacon_layout_without_reference_line_art(tmp_path):
    line, gt = draw(32)
    clip = tmp_path / "clip"
    targets = [save(clip / "line" / f"{k:04d}.png", line) for k in (1, 2)]
    ref = save(clip / "ref" / "gt" / "0000.png", gt)
    assert find_clip_layout(clip) == (targets, [ref], [None])
    assert find_clip_layout(Path(tmp_path / "nothing")) is None
