from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dacon_engine.errors import DaconError
from dacon_engine.fileio.labelmap import (
    MAX_LABEL,
    decode_labels,
    encode_labels,
    read_label_map,
    relabel_raster,
    write_label_map,
)


def test_encode_channels():
    lab = np.array([[0, 1, 256, 65536 * 3 + 256 * 2 + 1, MAX_LABEL]], np.int32)
    rgb = encode_labels(lab)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert rgb[0].tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [3, 2, 1], [255, 255, 255]]
    assert decode_labels(rgb).dtype == np.int32
    assert (decode_labels(rgb) == lab).all()


def test_round_trip_large_labels(tmp_path):
    rng = np.random.default_rng(3)
    lab = rng.integers(0, MAX_LABEL + 1, (17, 13)).astype(np.int32)
    lab[0, :4] = [0, 65535, 65536, 70000]
    write_label_map(tmp_path / "seg.png", lab)
    assert Image.open(tmp_path / "seg.png").mode == "RGB"
    assert (read_label_map(tmp_path / "seg.png") == lab).all()
    with pytest.raises(DaconError, match="already exists"):
        write_label_map(tmp_path / "seg.png", lab, overwrite=False)


def test_rgba_label_map_ignores_alpha(tmp_path):
    lab = np.array([[1, 300], [70000, 0]], np.int32)
    rgba = np.concatenate([encode_labels(lab), np.array([[[0], [255]], [[7], [0]]], np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "s.png")
    assert (read_label_map(tmp_path / "s.png") == lab).all()


def test_too_many_segments():
    with pytest.raises(DaconError, match="more than 16777215 segments"):
        encode_labels(np.array([[MAX_LABEL + 1]], np.int64))


def test_read_errors(tmp_path):
    with pytest.raises(DaconError, match="no such file"):
        read_label_map(tmp_path / "missing.png")
    Image.fromarray(np.zeros((2, 2), np.uint8), "L").save(tmp_path / "gray.png")
    with pytest.raises(DaconError, match="not a label map"):
        read_label_map(tmp_path / "gray.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(DaconError, match="cannot read image"):
        read_label_map(tmp_path / "junk.png")


def test_relabel_raster():
    lab = np.array([[0, 9, 9, 4],
                    [7, 7, 0, 4],
                    [0, 0, 20, 20]], np.int32)
    out, n = relabel_raster(lab)
    assert n == 4
    assert out.tolist() == [[0, 1, 1, 2], [3, 3, 0, 2], [0, 0, 4, 4]]


def test_labels_that_cannot_be_a_label_map_are_refused():
    for bad in (np.zeros((2, 2), np.float32), np.zeros((2, 2, 1), np.int32),
                np.zeros(4, np.int32)):
        with pytest.raises(ValueError, match="HxW integer array"):
            encode_labels(bad)
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        encode_labels(np.array([[0, -1]], np.int32))
    assert encode_labels(np.zeros((0, 5), np.int64)).shape == (0, 5, 3)
    assert encode_labels(np.array([[MAX_LABEL, 0]], np.uint32))[0].tolist() == [
        [255, 255, 255], [0, 0, 0]]
    for bad in (np.zeros((2, 2), np.uint8), np.zeros((2, 2, 2), np.uint8),
                np.zeros((2, 2, 5), np.uint8), np.zeros((2, 2, 3), np.uint16)):
        with pytest.raises(ValueError, match="HxWx3/4 uint8"):
            decode_labels(bad)
    assert decode_labels(np.array([[[1, 0, 0, 9]]], np.uint8)).tolist() == [[65536]]


def test_a_file_that_is_no_image_says_so(tmp_path):
    (tmp_path / "text.png").write_text("just text, not a PNG")
    with pytest.raises(DaconError, match=r"text.png: cannot read image \(not a recognized "
                                         r"image format\)"):
        read_label_map(tmp_path / "text.png")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) * 3 // 4])  # a truncated download
    with pytest.raises(DaconError, match=r"cut.png: cannot read image \(image file is "
                                         r"truncated"):
        read_label_map(tmp_path / "cut.png")


def test_read_errors_name_the_file_and_the_problem(tmp_path, monkeypatch):
    import PIL.Image

    with pytest.raises(DaconError, match=r"missing.png: no such file$"):
        read_label_map(tmp_path / "missing.png")
    Image.fromarray(np.zeros((2, 2), np.uint8), "L").save(tmp_path / "gray.png")
    with pytest.raises(DaconError, match=r"gray.png: not a label map \(image mode L; expected "
                                         r"8-bit RGB with label = R\*65536 \+ G\*256 \+ B\)$"):
        read_label_map(tmp_path / "gray.png")
    with pytest.raises(DaconError, match=r"seg.png: more than 16777215 segments"):
        write_label_map(tmp_path / "seg.png", np.array([[MAX_LABEL + 1]], np.int64))
    assert not (tmp_path / "seg.png").exists()
    # an error without a text still says what went wrong
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "ok.png")

    def fail(*a, **k):
        raise OSError()

    monkeypatch.setattr(PIL.Image, "open", fail)
    with pytest.raises(DaconError, match=r"ok.png: cannot read image \(OSError\)$"):
        read_label_map(tmp_path / "ok.png")


@pytest.mark.parametrize("size", [(0, 3), (3, 0)])
def test_a_zero_size_image_is_refused(tmp_path, monkeypatch, size):
    import PIL.Image

    (tmp_path / "empty.png").write_bytes(b"")
    monkeypatch.setattr(PIL.Image, "open", lambda p: PIL.Image.new("RGB", size))
    with pytest.raises(DaconError, match=r"empty.png: cannot read image \(it has zero size\)$"):
        read_label_map(tmp_path / "empty.png")


@pytest.mark.parametrize("shape", [(1, 4), (4, 1), (1, 1)])
def test_one_pixel_wide_label_maps_round_trip(tmp_path, shape):
    lab = np.arange(70000, 70000 + shape[0] * shape[1], dtype=np.int32).reshape(shape)
    write_label_map(tmp_path / "strip.png", lab)
    assert (read_label_map(tmp_path / "strip.png") == lab).all()
    write_label_map(tmp_path / "strip.png", lab + 1)  # replaces by default
    assert (read_label_map(tmp_path / "strip.png") == lab + 1).all()


def test_relabel_raster_keeps_line_pixels_wherever_they_are():
    lab = np.array([[5, 0, 3],
                    [3, 3, 0],
                    [0, 8, 5]], np.int64)
    out, n = relabel_raster(lab)
    assert n == 3 and out.dtype == np.int32
    assert out.tolist() == [[1, 0, 2], [2, 2, 0], [0, 3, 1]]
    out, n = relabel_raster(np.array([[0, 0], [0, 0]], np.int32))
    assert n == 0 and out.tolist() == [[0, 0], [0, 0]]
    out, n = relabel_raster(np.zeros((0, 3), np.int64))
    assert n == 0 and out.shape == (0, 3) and out.dtype == np.int32
    out, n = relabel_raster(np.array([[7]], np.int32))
    assert n == 1 and out.tolist() == [[1]]
