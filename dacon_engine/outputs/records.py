"""Reading back a colorized shot: its JSON records and each frame's segment label map.

Tools that work on finished outputs (review, trace, recolor) share these: which JSON files
in an output folder are colorize records, and which pixels belong to which recorded
segment (the EXR's ``segment.id`` when there is one, else the line art segmented again
with the settings the record names, checked against the recorded segment areas).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..colors import hex_color
from ..errors import DaconError
from ..fileio.files import is_temp_name, sorted_by_frame

PathLike = str | os.PathLike
RECORD_KEYS = {"segments", "n_segments", "frame"}


def read_record(path: PathLike) -> dict | None:
    """A colorize record; None for other JSON files (review.json, traces...).

    DaconError naming the file when it cannot be read or its segments are incomplete.
    """
    path = Path(path)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DaconError(path, f"cannot read this JSON record ({e})") from None
    if not isinstance(rec, dict) or not RECORD_KEYS <= set(rec):
        return None
    segs = rec["segments"]
    if not isinstance(segs, list) or len(segs) != rec["n_segments"] or \
            sorted(s.get("id") for s in segs) != list(range(1, len(segs) + 1)):
        raise DaconError(path, "record is incomplete (its segments do not match n_segments)")
    return rec


def record_paths(out_dir: PathLike) -> list[Path]:
    """The colorize records of an output folder that have a colored PNG or EXR beside
    them, in frame order."""
    out = Path(out_dir)
    if not out.is_dir():
        raise DaconError(out, "no such output folder")
    return sorted_by_frame(p for p in out.glob("*.json") if not is_temp_name(p.name)
                           and (p.with_suffix(".png").exists() or p.with_suffix(".exr").exists())
                           and read_record(p) is not None)


def segment_array(record: dict, key: str) -> list:
    """Per segment (in id order) the value of ``key``."""
    return [s[key] for s in sorted(record["segments"], key=lambda s: s["id"])]


def frame_labels(record_path: PathLike, record: dict) -> np.ndarray:
    """HxW int32 label map the record's segments are numbered in (0 = line).

    From ``<stem>.exr``'s ``segment.id`` when it exists, else by segmenting the record's
    line art again with its recorded settings. DaconError naming the record when the line
    art is gone or no longer gives the recorded segments.
    """
    record_path = Path(record_path)
    exr = record_path.with_suffix(".exr")
    if exr.is_file():
        from .write import read_exr_outputs

        ids = read_exr_outputs(exr).get("segment.id")
        if ids is not None:
            labels = ids.astype(np.int32)
            if int(labels.max(initial=0)) != record["n_segments"]:
                raise DaconError(record_path, f"names {record['n_segments']} segments but "
                                              f"{exr.name} has {int(labels.max(initial=0))}")
            return labels
    source = (record.get("frame") or {}).get("source")
    if not source or not Path(source).is_file():
        raise DaconError(record_path, f"cannot tell its segments apart: no {exr.name} "
                                      f"(segment.id) and its line art {source!r} is gone")
    from ..options import LineOptions
    from ..segmentation.segments import segment_frame

    info = record.get("line_art") or {}
    kw: dict = {"gap_radius": int(info.get("gap_radius", 0))}
    line: dict = {}
    if info.get("line_mode") in ("fixed", "adaptive", "learned"):
        line["mode"] = info["line_mode"]
    if "threshold" in info:
        kw["threshold"] = int(info["threshold"])
    for key in ("trace_colors", "line_colors"):
        if info.get(key) is not None:
            line[key] = tuple(hex_color(c[:3]) for c in info[key])
    frame = segment_frame(source, line_options=LineOptions(**line), **kw)
    if frame.n_segments != record["n_segments"] or \
            frame.areas().tolist() != segment_array(record, "area"):
        raise DaconError(record_path, f"its line art {source} no longer gives the recorded "
                                      "segments (changed since it was colored?); colorize "
                                      "it again")
    return frame.labels


__all__ = ["read_record", "record_paths", "segment_array", "frame_labels"]
