from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image, write_png


@pytest.fixture
def rgba() -> np.ndarray:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    a[0, 0, 3] = 0
    a[0, 1, 3] = 255
    return a


def test_rgba_png_round_trip(tmp_path, rgba):
    p = tmp_path / "a.png"
    write_png(p, rgba)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == (5, 6, 4)
    assert (out == rgba).all()


def test_rgb_png_gets_opaque_alpha(tmp_path, rgba):
    p = tmp_path / "rgb.png"
    Image.fromarray(rgba[..., :3], "RGB").save(p)
    out = read_image(p)
    assert (out[..., :3] == rgba[..., :3]).all() and (out[..., 3] == 255).all()


def test_gray_and_gray_alpha(tmp_path, rgba):
    g = rgba[..., 0]
    Image.fromarray(g, "L").save(tmp_path / "l.png")
    out = read_image(tmp_path / "l.png")
    assert all((out[..., c] == g).all() for c in range(3)) and (out[..., 3] == 255).all()
    Image.fromarray(rgba[..., :2], "LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert (out[..., 0] == g).all() and (out[..., 3] == rgba[..., 1]).all()


def test_palette_with_and_without_transparency(tmp_path):
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    pal = [10, 20, 30, 200, 100, 0, 0, 0, 0] + [0] * (256 * 3 - 9)
    im = Image.fromarray(idx, "P")
    im.putpalette(pal)
    im.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out[0, 0].tolist() == [10, 20, 30, 255] and out[0, 1].tolist() == [200, 100, 0, 255]
    im.save(tmp_path / "pt.png", transparency=2)  # index 2 (black) is transparent: tRNS
    out = read_image(tmp_path / "pt.png")
    assert out[0, 2, 3] == 0 and out[1, 0, 3] == 0 and out[0, 0, 3] == 255
    assert out[0, 1].tolist() == [200, 100, 0, 255]


def test_one_bit(tmp_path):
    bits = np.array([[0, 1, 1], [1, 0, 0]], bool)
    Image.fromarray(bits).convert("1").save(tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == "1"
    out = read_image(tmp_path / "b.png")
    assert (out[..., 0] == np.where(bits, 255, 0)).all() and (out[..., 3] == 255).all()


def test_sixteen_bit_gray_and_rgba(tmp_path):
    v = np.array([[0, 257, 1000], [32768, 65280, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), v)
    out = read_image(tmp_path / "g16.png")
    want = np.round(v / 257.0).astype(np.uint8)
    assert (out[..., 0] == want).all() and (out[..., 3] == 255).all()

    rgba16 = np.stack([v, v[::-1], np.full_like(v, 65535), v], -1)
    cv2.imwrite(str(tmp_path / "c16.png"), rgba16[..., [2, 1, 0, 3]])  # OpenCV is BGRA
    out = read_image(tmp_path / "c16.png")
    assert np.abs(out.astype(int) - np.round(rgba16 / 257.0)).max() <= 1
    assert (out[..., 2] == 255).all()


def test_sixteen_bit_write(tmp_path):
    v = (np.arange(24).reshape(2, 3, 4) * 2700).astype(np.uint16)
    write_png(tmp_path / "w16.png", v)
    back = cv2.imread(str(tmp_path / "w16.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and (back[..., [2, 1, 0, 3]] == v).all()


@pytest.mark.parametrize("suffix", [".tga", ".tif"])
def test_tga_and_tiff(tmp_path, rgba, suffix):
    p = tmp_path / f"a{suffix}"
    Image.fromarray(rgba, "RGBA").save(p)
    out = read_image(p)
    assert (out == rgba).all()


def test_exr_rgb_and_rgba(tmp_path):
    import OpenEXR

    rgb = np.array([[[0.0, 0.5, 1.0], [2.0, -1.0, 0.25]]], np.float32)
    hdr = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(hdr, {"RGB": rgb}).write(str(tmp_path / "rgb.exr"))
    out = read_image(tmp_path / "rgb.exr")
    # scene-linear -> sRGB: 0.5 -> 188, 0.25 -> 137; out-of-range values clipped
    assert out.tolist() == [[[0, 188, 255, 255], [255, 0, 137, 255]]]

    chans = {"R": rgb[..., 0].astype(np.float16), "G": rgb[..., 1].astype(np.float16),
             "B": rgb[..., 2].astype(np.float16), "A": np.array([[0.0, 1.0]], np.float32)}
    OpenEXR.File(hdr, chans).write(str(tmp_path / "rgba.exr"))
    out = read_image(tmp_path / "rgba.exr")
    assert out[0, :, 3].tolist() == [0, 255] and out[0, 0, :3].tolist() == [0, 188, 255]

    # premultiplied: linear 0.25 at alpha 0.5 is straight linear 0.5 -> sRGB 188
    half = {"R": np.full((1, 1), 0.25, np.float32), "G": np.zeros((1, 1), np.float32),
            "B": np.full((1, 1), 0.5, np.float32), "A": np.full((1, 1), 0.5, np.float32)}
    fresh = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(fresh, half).write(str(tmp_path / "premult.exr"))
    assert read_image(tmp_path / "premult.exr").tolist() == [[[188, 0, 255, 128]]]


def test_missing_file(tmp_path):
    with pytest.raises(DaconError) as e:
        read_image(tmp_path / "nope.png")
    assert str(e.value) == f"{tmp_path / 'nope.png'}: no such file"


def test_truncated_png_errors(tmp_path, rgba):
    big = np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    write_png(tmp_path / "full.png", big)
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DaconError, match="cannot read image"):
        read_image(tmp_path / "cut.png")


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello, not a png")
    with pytest.raises(DaconError, match=r"x\.png: cannot read image"):
        read_image(tmp_path / "x.png")
    (tmp_path / "bad.exr").write_bytes(b"\x76\x2f\x31\x01" + b"\0" * 20)
    with pytest.raises(DaconError, match="cannot read image"):
        read_image(tmp_path / "bad.exr")


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def test_zero_size_png_errors(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 0, 0, 8, 6, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b""))
    (tmp_path / "zero.png").write_bytes(data)
    with pytest.raises(DaconError, match="cannot read image"):
        read_image(tmp_path / "zero.png")


def test_write_png_modes_and_overwrite(tmp_path, rgba):
    write_png(tmp_path / "g.png", rgba[..., 0])
    assert Image.open(tmp_path / "g.png").mode == "L"
    write_png(tmp_path / "c.png", rgba[..., :3])
    assert (np.asarray(Image.open(tmp_path / "c.png")) == rgba[..., :3]).all()
    with pytest.raises(DaconError, match="already exists"):
        write_png(tmp_path / "c.png", rgba, overwrite=False)
    assert Image.open(tmp_path / "c.png").mode == "RGB"  # untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp
    with pytest.raises(ValueError):
        write_png(tmp_path / "f.png", rgba.astype(np.float32))
