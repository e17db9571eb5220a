"""Colored reference frames: segments plus one RGBA color per segment.

A reference is a colored frame, optionally with its line art. With line art the
segments come from the line art (as for targets); without it they come from the
colored frame's flat color regions. Each segment's color is the most frequent RGBA
inside it (as DACoN's ``extract_color`` and BasicPBC's ``process_gt`` do).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DaconError
from ..fileio.files import collect_images, list_images
from ..fileio.images import as_rgba
from ..frames import Reference, SegmentedFrame
from ..options import LineOptions
from . import segments

PathLike = str | os.PathLike


def pack_rgba(rgba: np.ndarray) -> np.ndarray:
    """(..., 4) uint8 -> (...) int64 color id (R<<24 | G<<16 | B<<8 | A)."""
    c = rgba.astype(np.int64)
    return (c[..., 0] << 24) | (c[..., 1] << 16) | (c[..., 2] << 8) | c[..., 3]


def unpack_rgba(ids: np.ndarray) -> np.ndarray:
    """(...) int64 color id -> (..., 4) uint8; inverse of :func:`pack_rgba`."""
    ids = np.asarray(ids, np.int64)
    return np.stack([(ids >> s) & 0xFF for s in (24, 16, 8, 0)], axis=-1).astype(np.uint8)


def segment_colors(labels: np.ndarray, n: int, color: np.ndarray) -> np.ndarray:
    """The most frequent RGBA inside each segment.

    labels: HxW int (0 = line, 1..n = segments); color: HxWx4 (or HxWx3) uint8.
    Returns (n, 4) uint8; row i is the color of label i+1. Ties go to the smallest
    color id (R, G, B, A compared in that order); segments with no pixels get
    transparent [0, 0, 0, 0]. Labels outside 1..n are ignored.
    """
    labels = np.asarray(labels)
    rgba = as_rgba(color)
    if rgba.shape[:2] != labels.shape:
        raise ValueError(f"color {rgba.shape[:2]} and labels {labels.shape} differ in size")
    out = np.zeros((int(n), 4), np.uint8)
    lab = labels.ravel().astype(np.int64)
    keep = (lab >= 1) & (lab <= n)
    if n <= 0 or not keep.any():
        return out
    cid = pack_rgba(rgba.reshape(-1, 4))
    key = (lab[keep] << 32) | cid[keep]
    uniq, counts = np.unique(key, return_counts=True)
    ulab = uniq >> 32
    ucid = uniq & 0xFFFFFFFF
    # per label: highest count first, then smallest color id
    order = np.lexsort((ucid, -counts, ulab))
    first = np.unique(ulab[order], return_index=True)[1]
    best = order[first]
    out[ulab[best] - 1] = unpack_rgba(ucid[best])
    return out


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"


def reference_from_arrays(color: np.ndarray, line: np.ndarray | None = None, *,
                          gap_radius: int = 0, name: str = "",
                          color_path: PathLike | None = None,
                          line_path: PathLike | None = None,
                          line_options: LineOptions | None = None) -> Reference:
    """Build a :class:`Reference` from in-memory images.

    color: HxWx4 (or HxWx3, alpha 255) uint8 colored frame.
    line:  optional HxWx4/HxWx3 uint8 line art of the same size; segments come from it
           (``segments.segment_line_art(line, gap_radius)``). Without it segments come
           from the colored frame itself and ``frame.line`` is the colored frame.
    line_options: line-art options for ``segments.segment_line_art`` (None = defaults).
    """
    rgba = as_rgba(color)
    if line is not None:
        line_rgba = as_rgba(line)
        if line_rgba.shape[:2] != rgba.shape[:2]:
            where = "" if line_path is None else f" {line_path}"
            raise DaconError(color_path if color_path is not None else "reference",
                             f"size {_size(rgba)} does not match line art{where} "
                             f"{_size(line_rgba)}")
    if line is not None:
        labels, n = segments.segment_line_art(line_rgba, gap_radius=gap_radius, path=line_path,
                                              line_options=line_options)
        frame = SegmentedFrame(line_rgba, np.asarray(labels, np.int32), int(n),
                               Path(line_path) if line_path is not None else None)
    else:
        labels, n = segments.segments_from_color(rgba, path=color_path)
        frame = SegmentedFrame(rgba, np.asarray(labels, np.int32), int(n),
                               Path(color_path) if color_path is not None else None)
    return Reference(frame=frame, colors=segment_colors(frame.labels, frame.n_segments, rgba),
                     name=name, color_path=Path(color_path) if color_path is not None else None,
                     extra=_extra(rgba, line, line_path))


def _extra(rgba: np.ndarray, line: np.ndarray | None, line_path: PathLike | None) -> dict:
    """Reference.extra: the colored frame (``color_rgba``) when segments came from line
    art (``frame.line`` is then the line art), and the line file's path if any."""
    extra: dict = {}
    if line is not None:
        extra["color_rgba"] = rgba
    if line_path is not None:
        extra["line_path"] = str(line_path)
    return extra


def load_reference(color_path: PathLike, line_path: PathLike | None = None, *,
                   gap_radius: int = 0, name: str | None = None,
                   line_options: LineOptions | None = None) -> Reference:
    """Read a colored reference frame (and optionally its line art) from disk.

    The name defaults to the color file's stem. Raises DaconError naming the color
    file when its size differs from the line art's.
    """
    from ..fileio import images as imageio

    color_path = Path(color_path)
    color = imageio.read_image(color_path)
    line = None if line_path is None else imageio.read_image(Path(line_path))
    return reference_from_arrays(
        color, line, gap_radius=gap_radius,
        name=color_path.stem if name is None else name,
        color_path=color_path, line_path=None if line_path is None else Path(line_path),
        line_options=line_options)


def expand_reference_paths(colors: Sequence[PathLike],
                           lines: Sequence[PathLike | None] | None = None,
                           ) -> list[tuple[Path, Path | None]]:
    """Expand color/line specs (files, folders, globs) and pair them by position.

    Each spec expands on its own (a folder to its images ordered by frame number) and
    order between specs is kept, so ``colors[i]`` pairs with ``lines[i]``. Missing
    trailing lines mean "no line art"; more lines than colors is an error.
    """
    color_paths: list[Path] = []
    for spec in colors:
        color_paths.extend(collect_images([spec]))
    if not color_paths:
        raise DaconError(None, "no reference color frames given")
    line_paths: list[Path | None] = []
    for spec in lines or ():
        if spec is None:
            line_paths.append(None)
        else:
            line_paths.extend(collect_images([spec]))
    if len(line_paths) > len(color_paths):
        extra = next((p for p in line_paths[len(color_paths):] if p is not None), None)
        raise DaconError(extra, f"more reference line-art files ({len(line_paths)}) than "
                                f"reference color frames ({len(color_paths)})")
    line_paths += [None] * (len(color_paths) - len(line_paths))
    return list(zip(color_paths, line_paths))


def load_references(colors: Sequence[PathLike],
                    lines: Sequence[PathLike | None] | None = None, *,
                    gap_radius: int = 0) -> list[Reference]:
    """Load references; see :func:`expand_reference_paths` for the pairing rules."""
    return [load_reference(c, l, gap_radius=gap_radius)
            for c, l in expand_reference_paths(colors, lines)]


def _match_by_name(path: Path, folder: Path) -> Path | None:
    """The file in ``folder`` with the same name as ``path`` (else the same stem)."""
    same = folder / path.name
    if same.is_file():
        return same
    for p in list_images(folder):
        if p.stem == path.stem:
            return p
    return None


def find_clip_layout(folder: PathLike,
                     ) -> tuple[list[Path], list[Path], list[Path | None]] | None:
    """Recognise a clip folder and return (targets, ref_colors, ref_lines), else None.

    Layouts, tried in order:
      * DACoN inference (also the PaintBucket-Character test layout):
        ``<clip>/line/*`` targets, ``<clip>/ref/gt/*`` reference colors and
        ``<clip>/ref/line/*`` their line art, paired by identical file name (a
        reference without a line file is segmented from its colors).
      * BasicPBC inference: ``<clip>/line/*`` plus colored key frames ``<clip>/gt/*``
        with the same names; the key frames are the references (with their
        ``line/`` file as line art) and the other line frames are the targets.
    Returns None when ``folder`` has no ``line/`` sub-folder or neither reference folder.
    """
    folder = Path(folder)
    line_dir = folder / "line"
    if not line_dir.is_dir():
        return None
    ref_gt, ref_line = folder / "ref" / "gt", folder / "ref" / "line"
    if ref_gt.is_dir():
        targets = list_images(line_dir)
        colors = list_images(ref_gt)
        if not colors:
            raise DaconError(ref_gt, "reference folder holds no image files")
        lines = [_match_by_name(c, ref_line) if ref_line.is_dir() else None for c in colors]
    elif (folder / "gt").is_dir():
        all_lines = list_images(line_dir)
        colors = list_images(folder / "gt")
        if not colors:
            raise DaconError(folder / "gt", "key-frame folder holds no image files")
        lines = [_match_by_name(c, line_dir) for c in colors]
        used = {p for p in lines if p is not None}
        targets = [p for p in all_lines if p not in used]
    else:
        return None
    if not targets:
        raise DaconError(line_dir, "folder holds no target line-art frames")
    return targets, colors, lines


def shot_and_references(targets: Sequence[PathLike], refs: Sequence[PathLike],
                        ref_lines: Sequence[PathLike | None], refs_option: str = "--ref COLOR",
                        ) -> tuple[list[Path], list[tuple[Path, Path | None]]]:
    """A shot's frames in order and its (color, line art) reference pairs: from the
    arguments, or from a clip folder (``find_clip_layout``) given as the one target, whose
    references serve when none are given. ``refs_option`` names the option in the error."""
    if not targets:
        raise DaconError(None, "no targets given")
    colors: list[PathLike] = list(refs)
    lines: list[PathLike | None] = list(ref_lines)
    clip = None
    if len(targets) == 1 and Path(targets[0]).is_dir():
        clip = find_clip_layout(targets[0])
    if clip is not None:
        shot, clip_colors, clip_lines = clip
        if not colors:
            colors, lines = list(clip_colors), list(clip_lines)
    else:
        shot = collect_images(targets)
    if not colors:
        raise DaconError(None, f"no references: give {refs_option} (or a clip folder with "
                               "ref/gt/)")
    return list(shot), expand_reference_paths(colors, lines)


__all__ = [
    "expand_reference_paths",
    "find_clip_layout",
    "load_reference",
    "load_references",
    "pack_rgba",
    "reference_from_arrays",
    "segment_colors",
    "shot_and_references",
    "unpack_rgba",
]
