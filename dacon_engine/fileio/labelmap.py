"""Segment label maps stored as 24-bit RGB PNG (the PaintBucket / DACoN ``seg`` format).

label = R * 65536 + G * 256 + B; 0 = line pixel; 1..n = segments. Decoding is done in
int32 (the DACoN reference shifts uint8 tensors and silently loses R and G).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DaconError
from .images import write_png

MAX_LABEL = (1 << 24) - 1  # 16777215: the largest label 24 bits can hold


def encode_labels(labels: np.ndarray, *, path: str | os.PathLike | None = None) -> np.ndarray:
    """HxW integer labels (0..16777215) -> HxWx3 uint8 RGB (R = bits 16-23, B = bits 0-7).

    Raises DaconError(path, "more than 16777215 segments") for larger labels.
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be an HxW integer array, got {lab.shape} {lab.dtype}")
    if lab.size:
        lo, hi = int(lab.min()), int(lab.max())
        if hi > MAX_LABEL:
            raise DaconError(path, f"more than {MAX_LABEL} segments")
        if lo < 0:
            raise ValueError(f"labels must be >= 0, got {lo}")
    # little-endian bytes of a uint32 are B, G, R, 0 -> reverse the first three
    le = lab.astype("<u4")
    return np.ascontiguousarray(le.view(np.uint8).reshape(lab.shape + (4,))[..., 2::-1])


def decode_labels(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 (or HxWx4, alpha ignored) uint8 -> HxW int32 label = R*65536 + G*256 + B."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint8:
        raise ValueError(f"need HxWx3/4 uint8 label colors, got {a.shape} {a.dtype}")
    return ((a[..., 0].astype(np.int32) << 16) | (a[..., 1].astype(np.int32) << 8)
            | a[..., 2].astype(np.int32))


def write_label_map(path: str | os.PathLike, labels: np.ndarray, *,
                    overwrite: bool = True) -> None:
    """Write HxW integer labels as a 24-bit RGB PNG (atomically)."""
    write_png(path, encode_labels(labels, path=path), overwrite=overwrite)


def read_label_map(path: str | os.PathLike) -> np.ndarray:
    """Read a label-map PNG -> HxW int32. An RGBA file's alpha is ignored.

    Raises DaconError for missing/unreadable files or files that are not 8-bit RGB(A)
    (a gray or palette image cannot hold a label map faithfully).
    """
    from PIL import Image

    p = Path(path)
    if not p.exists():
        raise DaconError(p, "no such file")
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            if mode not in ("RGB", "RGBA"):
                raise DaconError(p, f"not a label map (image mode {mode}; expected 8-bit RGB "
                                    "with label = R*65536 + G*256 + B)")
            arr = np.asarray(im)  # uint8: 8 bits per channel in both modes
    except DaconError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, Image.UnidentifiedImageError):
            msg = "not a recognized image format"
        raise DaconError(p, f"cannot read image ({msg})") from None
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DaconError(p, "cannot read image (it has zero size)")
    return decode_labels(arr)


def relabel_raster(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber HxW labels consecutively 1..n in raster order of each label's first pixel.

    0 stays 0 (line). Returns (int32 labels, n). Only run starts are examined (the first
    pixel of a label in raster order always starts a run), so this is one pass plus a
    gather.
    """
    lab = np.ascontiguousarray(labels)
    flat = lab.ravel()
    if flat.size == 0:
        return lab.astype(np.int32), 0
    # run starts: the first pixel, and every pixel unlike the one before it
    idx = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    vals = flat[idx]
    top = int(vals.max())
    first = np.full(top + 1, flat.size)
    np.minimum.at(first, vals, idx)  # first pixel of each value
    first[0] = flat.size  # 0 stays 0
    present = np.flatnonzero(first < flat.size)
    order = present[np.argsort(first[present])]  # first pixels all differ
    lut = np.zeros(top + 1, np.int32)
    lut[order] = np.arange(1, order.size + 1)
    return lut[lab], int(order.size)
