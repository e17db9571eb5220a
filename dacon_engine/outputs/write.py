"""Per-frame outputs: the colored PNG, a JSON record and an optional multi-channel EXR.

For a target ``<stem>`` in ``out_dir``:
  * ``<stem>.png``  RGBA uint8: each segment filled with its color; line pixels
    (label 0) copied unchanged from the input line art, alpha included.
  * ``<stem>.json`` the per-segment record (:func:`frame_record`).
  * ``<stem>.exr``  (optional) channels R, G, B, A float32 in the OpenEXR convention:
    scene-linear Rec.709/sRGB primaries (the PNG's sRGB values decoded with the sRGB
    transfer function, as Blender's "sRGB" colorspace does) and premultiplied by A;
    ``segment.id`` uint32 (0 = line); ``confidence`` float16 (0 on lines). Header string
    attributes: ``dacon_model``, ``dacon_source``, ``dacon_references`` (a JSON list),
    ``dacon_alpha`` = "premultiplied", ``dacon_color`` = "linear-rec709", ``dacon_palette``
    (the palette file, or ""). Two Cryptomatte layers (spec 1.1.0, see
    :mod:`cryptomatte`): ``CryptoPalette`` (one id per palette entry, or per ``#rrggbb``
    color without a palette; none on lines) and ``CryptoSegment`` (one id per segment,
    ``segment_<id>``). One part (Blender 4.2 reads Cryptomatte only from single-part files).

A frame's outputs are all written or none: every destination is checked first, each
file goes to a temp name beside it and is renamed into place only once all are written.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DaconError
from ..fileio.files import atomic_path, check_writable_dir
from ..fileio.images import srgb_to_linear
from ..frames import SegmentedFrame
from ..matching.bank import Assignment

if TYPE_CHECKING:
    from ..matching.palette import Palette

PathLike = str | os.PathLike
FORMATS = ("png", "json", "exr")


def _check_colors(frame: SegmentedFrame, colors: np.ndarray) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (frame.n_segments, 4):
        raise ValueError(f"expected ({frame.n_segments}, 4) colors, got {colors.shape}")
    return colors.astype(np.uint8, copy=False)


def render_colors(frame: SegmentedFrame, colors: np.ndarray) -> np.ndarray:
    """Fill every segment with its color: (n, 4) uint8 -> HxWx4 uint8 RGBA.

    Line pixels (label 0) are copied unchanged from ``frame.line`` (all four channels).
    """
    colors = _check_colors(frame, colors)
    lut = np.zeros((frame.n_segments + 1, 4), np.uint8)
    lut[1:] = colors
    line = frame.line
    if line.ndim == 3 and line.shape[2] == 3:  # tolerate RGB line art: alpha 255
        line = np.concatenate([line, np.full(line.shape[:2] + (1,), 255, np.uint8)], 2)
    # one 4-byte gather per pixel (RGBA packed as uint32) instead of four 1-byte ones
    lut32 = lut.view(np.uint32).reshape(-1)
    line32 = np.ascontiguousarray(line).view(np.uint32)[..., 0]
    labels = frame.labels
    out32 = np.where(labels == 0, line32, lut32[labels])
    return out32.view(np.uint8).reshape(labels.shape + (4,))


def confidence_image(frame: SegmentedFrame, confidence: np.ndarray) -> np.ndarray:
    """(n,) per-segment confidence -> HxW float32, 0 on line pixels."""
    lut = np.zeros(frame.n_segments + 1, np.float32)
    lut[1:] = np.asarray(confidence, np.float32).reshape(-1)[: frame.n_segments]
    return lut[frame.labels]


def _ref_name(r) -> str:
    if isinstance(r, (str, os.PathLike)):
        return os.fspath(r)
    name = getattr(r, "name", "") or ""
    path = getattr(r, "color_path", None)
    return name or (os.fspath(path) if path is not None else str(r))


def _transparent_paper(frame: SegmentedFrame) -> bool:
    """Whether the line art's paper (non-line pixels) is transparent anywhere: editors
    then have to put the colors under the line art rather than multiply them over it."""
    line = frame.line
    if line.ndim != 3 or line.shape[2] != 4:
        return False
    return bool(np.any((line[..., 3] < 255) & (frame.labels > 0)))


def frame_record(frame: SegmentedFrame, assignment: Assignment, model_name: str,
                 references: Sequence = (), *, source: PathLike | None = None,
                 palette: "Palette | None" = None, matching: dict | None = None,
                 precision: str | None = None) -> dict:
    """The JSON record of one colored frame.

    references: names/paths (or Reference objects) indexed by ``assignment.ref_index``.
    Each segment row: id (label), color [r,g,b,a], confidence, similarity, reference
    (name, or null if unknown), reference_segment (label in that reference), area (px),
    palette_entry (the palette entry's name; without a palette ``#rrggbb``; null for a
    transparent fill). ``palette``: {"source": file, "entries": {name: "#rrggbb"}} or null.
    ``matching``: the matching settings (e.g. {"graph_refine": true}) or null if not given.
    ``precision``: the network's precision ("bf16" or "fp32"; null: no network / not given).
    """
    from ..matching.palette import segment_names

    n = frame.n_segments
    _check_colors(frame, assignment.colors)
    names = [_ref_name(r) for r in references]
    areas = frame.areas()
    ref_idx = np.asarray(assignment.ref_index, np.int64)
    ref_names = [names[i] if 0 <= i < len(names) else None for i in ref_idx.tolist()]
    conf = np.round(np.asarray(assignment.confidence, np.float64), 4).tolist()
    sim = np.round(np.asarray(assignment.similarity, np.float64), 4).tolist()
    entry = segment_names(assignment.colors, palette)
    segs = [
        {"id": i + 1, "color": c, "confidence": cf, "similarity": s, "reference": rn,
         "reference_segment": rs, "area": a, "palette_entry": pe}
        for i, (c, cf, s, rn, rs, a, pe) in enumerate(zip(
            np.asarray(assignment.colors, np.uint8).tolist(), conf, sim, ref_names,
            np.asarray(assignment.ref_segment, np.int64).tolist(), areas.tolist(), entry))
    ]
    src = source if source is not None else frame.path
    h, w = frame.size
    return {
        "frame": {"width": w, "height": h, "source": None if src is None else os.fspath(src),
                  "transparent_paper": _transparent_paper(frame)},
        "model": model_name,
        "precision": precision,
        "matching": None if matching is None else dict(matching),
        "references": names,
        "line_pixels": int(np.count_nonzero(frame.labels == 0)),
        "line_art": dict(frame.line_art),  # line_mode used (fixed/adaptive), levels, specks
        "n_segments": n,
        "palette": None if palette is None else {"source": palette.source,
                                                 "entries": palette.entries()},
        "segments": segs,
    }


def exr_channels(rgba: np.ndarray, labels: np.ndarray, confidence_px: np.ndarray,
                 colors: np.ndarray, palette: "Palette | None" = None,
                 ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The EXR's channels (contiguous arrays) and Cryptomatte header attributes.

    rgba: HxWx4 uint8 (sRGB, straight alpha); labels: HxW (0 = line); confidence_px: HxW;
    colors: (n, 4) segment colors (row i = label i+1), named by ``palette.segment_names``.
    """
    from ..matching.palette import segment_names
    from .cryptomatte import crypto_layer

    present = np.unique(labels)
    present = present[(present > 0) & (present <= len(colors))].astype(np.int64)
    names = segment_names(np.asarray(colors, np.uint8).reshape(-1, 4)[present - 1], palette)

    f = rgba.astype(np.float32) / np.float32(255.0)
    alpha = f[:, :, 3]
    rgb = srgb_to_linear(f[:, :, :3]) * alpha[:, :, None]
    channels = {
        "R": np.ascontiguousarray(rgb[:, :, 0], dtype=np.float32),
        "G": np.ascontiguousarray(rgb[:, :, 1], dtype=np.float32),
        "B": np.ascontiguousarray(rgb[:, :, 2], dtype=np.float32),
        "A": np.ascontiguousarray(alpha),
        "segment.id": np.ascontiguousarray(labels, dtype=np.uint32),
        "confidence": np.ascontiguousarray(confidence_px, dtype=np.float16),
    }
    header: dict[str, str] = {}
    by_color = {k: n for k, n in zip(present.tolist(), names) if n is not None}
    by_segment = {k: f"segment_{k}" for k in present.tolist()}
    for layer, label_names in (("CryptoPalette", by_color), ("CryptoSegment", by_segment)):
        ch, hd = crypto_layer(layer, labels, label_names)
        channels.update(ch)
        header.update(hd)
    return channels, header


def write_exr(path: PathLike, channels: dict[str, np.ndarray], attrs: dict[str, str]) -> None:
    """One single-part scanline EXR, ZIP-compressed, with string header attributes."""
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    header.update({k: str(v) for k, v in attrs.items()})
    OpenEXR.File(header, {k: np.ascontiguousarray(v) for k, v in channels.items()}
                 ).write(os.fspath(path))


def _write_exr(path: Path, rgba: np.ndarray, frame: SegmentedFrame, confidence: np.ndarray,
               attrs: dict[str, str], colors: np.ndarray,
               palette: "Palette | None" = None) -> None:
    channels, crypto = exr_channels(rgba, frame.labels, confidence_image(frame, confidence),
                                    colors, palette)
    write_exr(path, channels, {**attrs, **crypto})


def read_exr_outputs(path: PathLike) -> dict[str, np.ndarray]:
    """Channels of an EXR written by :func:`write_frame_outputs`, by name (HxW arrays)."""
    import OpenEXR

    try:
        with OpenEXR.File(os.fspath(path), separate_channels=True) as f:
            return {k: np.array(c.pixels) for k, c in f.channels().items()}
    except (RuntimeError, OSError, ValueError, TypeError) as e:  # OpenEXR read errors
        raise DaconError(path, f"cannot read EXR ({e})") from None


def read_exr_header(path: PathLike) -> dict:
    """Header attributes of an EXR (``dacon_*`` strings included)."""
    import OpenEXR

    try:
        with OpenEXR.File(os.fspath(path)) as f:
            return dict(f.header())
    except (RuntimeError, OSError, ValueError, TypeError) as e:
        raise DaconError(path, f"cannot read EXR ({e})") from None


def output_paths(out_dir: PathLike, stem: str, formats: Sequence[str]) -> list[Path]:
    """Destinations for ``formats`` (validated, duplicates dropped, order kept)."""
    fmts = list(dict.fromkeys(f.lower().lstrip(".") for f in formats))
    bad = [f for f in fmts if f not in FORMATS]
    if bad:
        raise DaconError(None, f"unknown output format {bad[0]!r} "
                               f"(choose from {', '.join(FORMATS)})")
    if not fmts:
        raise DaconError(None, "no output format selected")
    return [Path(out_dir) / f"{stem}.{f}" for f in fmts]


def write_frame_outputs(out_dir: PathLike, stem: str, frame: SegmentedFrame,
                        assignment: Assignment, *, formats: Sequence[str] = ("png", "json"),
                        model_name: str = "", references: Sequence = (),
                        overwrite: bool = False, palette: "Palette | None" = None,
                        matching: dict | None = None,
                        precision: str | None = None) -> list[Path]:
    """Write ``<stem>.png`` / ``.json`` / ``.exr`` for one frame; return the paths written.

    All or nothing: existing destinations raise DaconError before anything is written
    (unless ``overwrite``), and on any failure the files this call put in place are removed.
    ``palette``: names fills in the JSON record and the EXR's Cryptomatte (the colors must
    already be palette values; see :mod:`palette`). ``precision``: the network's, for
    the JSON record.
    """
    from ..fileio import images as imageio

    dests = output_paths(out_dir, stem, formats)
    if not overwrite:
        for d in dests:
            if d.exists():
                raise DaconError(d, "already exists (use --overwrite to replace it)")
    check_writable_dir(out_dir)
    rgba = render_colors(frame, assignment.colors)
    names = [_ref_name(r) for r in references]

    def write(d: Path, tmp: Path) -> None:
        fmt = d.suffix[1:]
        if fmt == "png":
            imageio.write_png_to(tmp, rgba, name=d)
        elif fmt == "json":
            rec = frame_record(frame, assignment, model_name, names, palette=palette,
                               matching=matching, precision=precision)
            tmp.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
        else:
            _write_exr(tmp, rgba, frame, assignment.confidence, {
                "dacon_model": model_name,
                "dacon_source": "" if frame.path is None else os.fspath(frame.path),
                "dacon_references": json.dumps(names),
                "dacon_alpha": "premultiplied",
                "dacon_color": "linear-rec709",
                "dacon_palette": "" if palette is None else (palette.source or ""),
            }, assignment.colors, palette)

    inodes: dict[Path, int] = {}
    try:
        with contextlib.ExitStack() as stack:
            for d in dests:
                tmp = stack.enter_context(atomic_path(d, overwrite=overwrite))
                try:
                    write(d, tmp)
                except DaconError:
                    raise
                except OSError as e:
                    raise DaconError(d, f"cannot write ({e.strerror or e})") from None
                except (RuntimeError, ValueError, TypeError) as e:
                    raise DaconError(d, f"cannot write ({e})") from None
                inodes[d] = tmp.stat().st_ino
    except BaseException:
        for d, ino in inodes.items():  # remove only files this call renamed into place
            with contextlib.suppress(OSError):
                if d.stat().st_ino == ino:
                    d.unlink()
        raise
    return dests


__all__ = [
    "FORMATS",
    "confidence_image",
    "exr_channels",
    "frame_record",
    "output_paths",
    "read_exr_header",
    "read_exr_outputs",
    "render_colors",
    "write_exr",
    "write_frame_outputs",
]
