"""Reading and writing images as HxWx4 uint8 RGBA arrays.

Everything the engine reads goes through :func:`read_image`, which normalizes every
supported file (PNG in any mode, TGA, TIFF, BMP, JPEG, WebP via Pillow; OpenEXR via the
``OpenEXR`` package) to straight (non-premultiplied) 8-bit RGBA. Problems a user can fix
raise :class:`~dacon_engine.errors.DaconError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from ..errors import DaconError
from .files import atomic_path

_EXR_MAGIC = b"\x76\x2f\x31\x01"


def _to_uint8_from_16(a: np.ndarray) -> np.ndarray:
    """uint16-range integers -> uint8 with rounding (v / 257, i.e. 65535 -> 255)."""
    a = np.clip(a.astype(np.int64), 0, 65535)
    return ((a + 128) // 257).astype(np.uint8)


def _float_to_uint8(a: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped; NaN -> 0) -> uint8 rounded."""
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gray_to_rgba(g: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    out = np.empty(g.shape + (4,), np.uint8)
    out[..., 0] = out[..., 1] = out[..., 2] = g
    out[..., 3] = 255 if alpha is None else alpha
    return out


def as_rgba(image: np.ndarray, *, gray: bool = True) -> np.ndarray:
    """An in-memory image as contiguous HxWx4 uint8 RGBA: HxWx3 gets alpha 255 and, with
    ``gray``, HxW is repeated into RGB. Anything else is a ValueError saying what it got."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if gray and a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        kinds = "an HxW, HxWx3 or HxWx4" if gray else "an HxWx3 or HxWx4"
        raise ValueError(f"expected {kinds} image, got shape {a.shape}")
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(a)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1 piecewise curve)."""
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.04045, v / np.float32(12.92),
                    ((v + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4))


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_to_linear`."""
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.0031308, v * np.float32(12.92),
                    np.float32(1.055) * np.maximum(v, 0) ** np.float32(1 / 2.4) - np.float32(0.055))


def _read_exr(path: Path) -> np.ndarray:
    """OpenEXR file -> straight RGBA uint8 sRGB, the inverse of what ``dacon`` writes:
    R, G, B are taken as scene-linear and premultiplied (the OpenEXR convention), so they
    are divided by A where A > 0 and encoded with the sRGB curve; values are clipped to
    [0, 1]; a missing alpha channel -> 255; a Y-only file is gray."""
    import OpenEXR  # imported lazily: only needed for EXR

    try:
        f = OpenEXR.File(str(path), separate_channels=True)
        channels = {name: ch.pixels for name, ch in f.channels().items()}
    except Exception as e:  # noqa: BLE001 (the binding raises plain Exception types)
        raise DaconError(path, f"cannot read image ({e})") from None

    def pick(name: str) -> np.ndarray | None:
        if name in channels:
            return channels[name]
        # layered files: take the first layer that has this channel ("beauty.R")
        for key in sorted(channels):
            if key.rsplit(".", 1)[-1] == name:
                return channels[key]
        return None

    r, g, b, a, y = (pick(c) for c in ("R", "G", "B", "A", "Y"))
    if r is not None and g is not None and b is not None:
        rgb = np.stack([r, g, b], -1)
    elif y is not None:
        rgb = np.repeat(np.asarray(y)[..., None], 3, -1)
    else:
        raise DaconError(path, f"cannot read image (EXR has no R,G,B or Y channels: "
                               f"{', '.join(sorted(channels)) or 'none'})")
    rgb = np.nan_to_num(np.asarray(rgb, np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    if a is not None:
        alpha = np.nan_to_num(np.asarray(a, np.float32), nan=0.0)
        rgb = np.where(alpha[..., None] > 0, rgb / np.maximum(alpha, 1e-12)[..., None], rgb)
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = _float_to_uint8(linear_to_srgb(np.clip(rgb, 0.0, 1.0)))
    out[..., 3] = 255 if a is None else _float_to_uint8(a)
    return out


def _pil_to_rgba(im: Image.Image) -> np.ndarray:
    """A loaded Pillow image in any mode -> HxWx4 uint8 RGBA."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im)
        if arr.dtype.byteorder == ">" or arr.dtype.kind != "i" or arr.dtype.itemsize != 4:
            arr = arr.astype(np.int32)
        alpha = None
        trns = im.info.get("transparency")
        if isinstance(trns, int):
            alpha = np.where(arr == trns, 0, 255).astype(np.uint8)
        return _gray_to_rgba(_to_uint8_from_16(arr), alpha)
    if mode == "F":
        return _gray_to_rgba(_float_to_uint8(np.asarray(im)))
    if mode == "RGBA":
        return np.array(im, dtype=np.uint8)
    # 1, L, LA, La, P (with/without tRNS), PA, RGB (+tRNS), RGBa, CMYK, YCbCr, LAB, HSV
    if mode in ("RGBa", "La"):  # premultiplied -> straight
        im = im.convert(mode.upper())
    return np.array(im.convert("RGBA"), dtype=np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any supported image file as an HxWx4 uint8 straight-alpha RGBA array.

    16-bit channels are scaled to 8 bits (Pillow keeps the high byte of 16-bit RGB(A)
    PNGs; 16-bit and 32-bit-integer gray is read as 0..65535 and rounded v/257); EXR
    is read as scene-linear premultiplied and returned as straight sRGB (see
    ``_read_exr``); a missing alpha becomes 255;
    palette/gray/RGB transparency (tRNS) becomes alpha 0.
    Only the first frame of multi-frame files is read.

    Raises DaconError(path, "no such file") or DaconError(path, "cannot read image (...)")
    for missing, unreadable, truncated, empty or non-image files.
    """
    p = Path(path)
    if not p.exists():
        raise DaconError(p, "no such file")
    if p.is_dir():
        raise DaconError(p, "cannot read image (it is a folder)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
    except OSError as e:
        raise DaconError(p, f"cannot read image ({e.strerror or e})") from None
    if head == _EXR_MAGIC:
        out = _read_exr(p)
    else:
        if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone flipped the global: never accept
            raise DaconError(p, "cannot read image (PIL.ImageFile.LOAD_TRUNCATED_IMAGES "
                                "is set; refusing to read possibly truncated files)")
        try:
            with Image.open(p) as im:
                im.load()
                out = _pil_to_rgba(im)
        except DaconError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                MemoryError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, Image.UnidentifiedImageError):
                msg = "not a recognized image format"
            raise DaconError(p, f"cannot read image ({msg})") from None
    if out.ndim != 3 or out.shape[0] == 0 or out.shape[1] == 0:
        raise DaconError(p, "cannot read image (it has zero size)")
    return np.ascontiguousarray(out)


def _png_params() -> list[int]:
    """Fast lossless PNG for flat-colored frames: zlib level 1, the run-length strategy and
    the "up" row filter encode a 1920x1920 RGBA fill ~3x faster than the defaults (files
    ~1.7x larger, ~140 KB)."""
    import cv2

    return [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
            cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def write_png(path: str | os.PathLike, array: np.ndarray, *, overwrite: bool = True) -> None:
    """Write an image atomically as PNG.

    array: HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA); uint8, or uint16 for 16-bit PNG.
    """
    with atomic_path(path, overwrite=overwrite) as tmp:
        write_png_to(tmp, array, name=path)


def write_png_to(path: str | os.PathLike, array: np.ndarray, *,
                 name: str | os.PathLike | None = None) -> None:
    """Write PNG bytes straight to ``path`` (already a temp name: no temp of its own);
    errors name ``name`` (default ``path``)."""
    name = path if name is None else name
    a = np.asarray(array)
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png needs uint8 or uint16 pixels, got {a.dtype}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ValueError(f"write_png needs HxW, HxWx3 or HxWx4 pixels, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError("write_png cannot write an empty image")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    import cv2  # faster than Pillow here, and it writes 16-bit color too (BGR order)

    bgr = a if a.ndim == 2 else (cv2.cvtColor(a, cv2.COLOR_RGB2BGR) if a.shape[2] == 3
                                 else cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA))
    try:
        ok, data = cv2.imencode(".png", np.ascontiguousarray(bgr), _png_params())
    except cv2.error as e:
        raise DaconError(name, f"cannot write PNG ({str(e).strip().splitlines()[-1]})") from None
    if not ok:
        raise DaconError(name, "cannot write PNG")
    try:
        Path(path).write_bytes(data.tobytes())
    except OSError as e:
        raise DaconError(name, f"cannot write PNG ({e.strerror or e})") from None
