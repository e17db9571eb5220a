"""References: per-segment colors, loading, pairing and clip layouts."""

from __future__ import annotations

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.segmentation.references import (
    as_rgba,
    expand_reference_paths,
    find_clip_layout,
    pack_rgba,
    segment_colors,
    unpack_rgba,
)

RED, BLUE, CLEAR = (255, 0, 0, 255), (0, 0, 255, 255), (0, 0, 0, 0)


def _png(path, arr):
    from dacon_engine.fileio.images import write_png

    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, arr)
    return path


def test_pack_unpack_roundtrip():
    c = np.array([[1, 2, 3, 4], [255, 255, 255, 0], [0, 0, 0, 255]], np.uint8)
    assert (unpack_rgba(pack_rgba(c)) == c).all()


def test_segment_colors_mode_ties_and_empty():
    labels = np.array([[1, 1, 1, 2],
                       [1, 0, 2, 2],
                       [3, 3, 2, 2]], np.int32)
    color = np.zeros((3, 4, 4), np.uint8)
    color[:] = RED
    color[0, 0] = BLUE                      # segment 1: 3 red, 1 blue -> red
    color[0, 3] = color[1, 2] = BLUE        # segment 2: 3 blue, 2 red... set below
    color[2, 2] = BLUE                      # segment 2 -> 4 blue, 1 red
    color[2, 0] = (9, 9, 9, 255)            # segment 3: one of each -> smaller id wins
    color[2, 1] = (1, 1, 1, 255)
    color[1, 1] = (7, 7, 7, 7)              # line pixel: ignored
    out = segment_colors(labels, 4, color)
    assert out.dtype == np.uint8 and out.shape == (4, 4)
    assert out[0].tolist() == list(RED)
    assert out[1].tolist() == list(BLUE)
    assert out[2].tolist() == [1, 1, 1, 255]
    assert out[3].tolist() == list(CLEAR)   # no pixels


def test_segment_colors_alpha_distinguishes_and_rgb_counts_as_opaque():
    labels = np.ones((2, 2), np.int32)
    c = np.zeros((2, 2, 4), np.uint8)
    c[0, :] = (255, 255, 255, 0)
    c[1, 0] = (255, 255, 255, 255)
    c[1, 1] = (255, 255, 255, 255)
    c[0, 1] = (255, 255, 255, 255)  # 3 opaque white vs 1 transparent white
    assert segment_colors(labels, 1, c)[0].tolist() == [255, 255, 255, 255]
    rgb = np.full((2, 2, 3), 10, np.uint8)
    assert segment_colors(labels, 1, rgb)[0].tolist() == [10, 10, 10, 255]
    assert as_rgba(rgb)[..., 3].min() == 255


def test_segment_colors_many_labels_vectorized():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 300, size=(40, 50)).astype(np.int32)
    color = np.zeros((40, 50, 4), np.uint8)
    color[..., 0] = (labels * 7) % 256      # each label flat...
    color[..., 1] = labels // 256 + 1       # ...with a unique color
    color[..., 3] = 255
    out = segment_colors(labels, 300, color)
    present = np.unique(labels[labels > 0])
    assert (out[present - 1, 0] == (present * 7) % 256).all()
    assert (out[present - 1, 1] == present // 256 + 1).all()


def test_size_mismatch_names_color_file(tmp_path):
    color = _png(tmp_path / "ref_color.png", np.zeros((80, 100, 4), np.uint8))
    line = _png(tmp_path / "ref_line.png", np.zeros((80, 120, 4), np.uint8))
    from dacon_engine.segmentation.references import load_reference

    with pytest.raises(DaconError) as e:
        load_reference(color, line)
    msg = str(e.value)
    assert msg.startswith(str(color) + ":")
    assert "size 100x80 does not match line art" in msg and str(line) in msg and "120x80" in msg
    assert "\n" not in msg


def test_reference_from_arrays_with_fake_segmenter(monkeypatch):
    segments = pytest.importorskip("dacon_engine.segmentation.segments")
    from dacon_engine.segmentation.references import reference_from_arrays

    labels = np.array([[1, 1, 0, 2], [1, 1, 0, 2]], np.int32)
    monkeypatch.setattr(segments, "segment_line_art", lambda rgba, **kw: (labels, 2))
    monkeypatch.setattr(segments, "segments_from_color", lambda rgba, **kw: (labels, 2))
    color = np.zeros((2, 4, 3), np.uint8)
    color[:, :2] = (255, 0, 0)
    color[:, 3] = (0, 0, 255)
    line = np.zeros((2, 4, 4), np.uint8)
    ref = reference_from_arrays(color, line, name="r")
    assert ref.colors.tolist() == [[255, 0, 0, 255], [0, 0, 255, 255]]
    assert ref.frame.n_segments == 2 and (ref.frame.line == line).all()
    assert ref.extra["color_rgba"].shape == (2, 4, 4)
    ref2 = reference_from_arrays(color)  # no line art: the colored frame is the "line"
    assert (ref2.frame.line[..., :3] == color).all() and ref2.colors.tolist() == ref.colors.tolist()
    with pytest.raises(DaconError, match="does not match line art"):
        reference_from_arrays(color, np.zeros((3, 4, 4), np.uint8), color_path="c.png")


def test_load_reference_real_art(tmp_path):
    pytest.importorskip("dacon_engine.segmentation.segments")
    from dacon_engine.segmentation.references import load_reference
    from tests.support.art import COLORS, draw

    line, gt = draw(64)
    c = _png(tmp_path / "gt" / "0000.png", gt)
    ln = _png(tmp_path / "line" / "0000.png", line)
    ref = load_reference(c, ln)
    assert ref.name == "0000" and ref.frame.labels.shape == (64, 64)
    got = {tuple(x) for x in ref.colors.tolist()}
    for name in ("face", "mouth", "hat"):
        assert COLORS[name] in got


def test_expand_reference_paths_pairs_by_position(tmp_path):
    a = _png(tmp_path / "c" / "0002.png", np.zeros((2, 2, 4), np.uint8))
    b = _png(tmp_path / "c" / "0010.png", np.zeros((2, 2, 4), np.uint8))
    z = _png(tmp_path / "z.png", np.zeros((2, 2, 4), np.uint8))
    la = _png(tmp_path / "l" / "a.png", np.zeros((2, 2, 4), np.uint8))
    pairs = expand_reference_paths([z, tmp_path / "c"], [la])
    assert pairs == [(z, la), (a, None), (b, None)]
    with pytest.raises(DaconError, match=r"more reference line-art files \(2\) than"):
        expand_reference_paths([z], [la, la])
    with pytest.raises(DaconError, match="no such file"):
        expand_reference_paths([tmp_path / "missing.png"])


def test_find_clip_layout_dacon(tmp_path):
    img = np.zeros((2, 2, 4), np.uint8)
    clip = tmp_path / "clip"
    assert find_clip_layout(clip) is None
    for n in ("0003.png", "0001.png", "0002.png"):
        _png(clip / "line" / n, img)
    assert find_clip_layout(clip) is None  # no references
    _png(clip / "ref" / "gt" / "a.png", img)
    _png(clip / "ref" / "gt" / "b.png", img)
    _png(clip / "ref" / "line" / "a.png", img)
    targets, colors, lines = find_clip_layout(clip)
    assert [t.name for t in targets] == ["0001.png", "0002.png", "0003.png"]
    assert [c.name for c in colors] == ["a.png", "b.png"]
    assert lines == [clip / "ref" / "line" / "a.png", None]


def test_find_clip_layout_basicpbc_keyframes(tmp_path):
    img = np.zeros((2, 2, 4), np.uint8)
    clip = tmp_path / "clip"
    for n in ("0000.png", "0001.png", "0002.png"):
        _png(clip / "line" / n, img)
    _png(clip / "gt" / "0000.png", img)
    targets, colors, lines = find_clip_layout(clip)
    assert [t.name for t in targets] == ["0001.png", "0002.png"]
    assert colors == [clip / "gt" / "0000.png"] and lines == [clip / "line" / "0000.png"]


def test_find_clip_layout_empty_ref_folder(tmp_path):
    clip = tmp_path / "clip"
    _png(clip / "line" / "0000.png", np.zeros((2, 2, 4), np.uint8))
    (clip / "ref" / "gt").mkdir(parents=True)
    with pytest.raises(DaconError, match="holds no image files"):
        find_clip_layout(clip)


def test_load_reference_without_line_art(tmp_path):
    from dacon_engine.segmentation.references import load_reference, load_references
    from tests.support.art import COLORS, draw

    _, gt = draw(64)
    rgb = gt[..., :3].copy()  # an RGB color frame counts as alpha 255
    c = _png(tmp_path / "0005.png", gt)
    c_rgb = _png(tmp_path / "rgb" / "0006.png", rgb)
    ref = load_reference(c, name="key")
    assert ref.name == "key" and ref.frame.line is not None
    assert (ref.frame.line == gt).all() and "color_rgba" not in ref.extra
    got = {tuple(x) for x in ref.colors.tolist()}
    assert {COLORS["face"], COLORS["hat"], COLORS["mouth"]} <= got
    refs = load_references([c, tmp_path / "rgb"])
    assert [r.name for r in refs] == ["0005", "0006"] and refs[1].color_path == c_rgb
    assert (refs[1].colors[:, 3] == 255).all()
