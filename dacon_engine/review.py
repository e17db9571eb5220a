"""Review a colored shot: where is the engine unsure?

From each frame's JSON record (per-segment confidence) and its segments, write
``<review dir>/<stem>.png``: segments whose confidence is below a threshold filled with a
translucent highlight, everything else transparent, so it can sit above the colored frames
in an editor; plus ``review.json`` with each frame's low-confidence area and the frame with
the most of it. Segments come from the frame's EXR (``segment.id``) when there is one, else
from its line art segmented again with the settings the record names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import DaconError
from .files import atomic_write_text, sorted_by_frame

HIGHLIGHT = (255, 0, 255, 170)  # magenta, translucent
PathLike = str | os.PathLike


def check_threshold(threshold: float, option: str = "--threshold") -> float:
    t = float(threshold)
    if not 0.0 <= t <= 1.0:  # also refuses NaN
        raise DaconError(None, f"{option} {threshold}: must be between 0 and 1")
    return t


def _labels(out_dir: Path, stem: str, record: dict, record_path: Path) -> np.ndarray:
    """The segment label map a record's segments are numbered in."""
    exr = out_dir / f"{stem}.exr"
    if exr.is_file():
        from .outputs import read_exr_outputs

        labels = read_exr_outputs(exr).get("segment.id")
        if labels is not None:
            return labels.astype(np.int32)
    source = record.get("frame", {}).get("source")
    if not source or not Path(source).is_file():
        raise DaconError(record_path, f"its line art {source!r} is gone and there is no "
                                      f"{stem}.exr with segment ids")
    from .imageio import read_image
    from .segments import segment_line_art

    info = record.get("line_art") or {}
    kw = {"gap_radius": int(info.get("gap_radius", 0)),
          "line_mode": info.get("line_mode", "auto")}
    if "threshold" in info:
        kw["threshold"] = int(info["threshold"])
    if info.get("trace_colors") is not None:
        kw["trace_colors"] = [tuple(c) for c in info["trace_colors"]]
    if info.get("line_colors") is not None:
        kw["line_colors"] = [tuple(c) for c in info["line_colors"]]
    labels, _ = segment_line_art(read_image(source), path=source, **kw)
    return np.asarray(labels, np.int32)


def review_frame(out_dir: Path, record_path: Path, threshold: float, review_dir: Path,
                 overwrite: bool = True) -> dict:
    """Write one frame's highlight PNG; its low-confidence figures."""
    from .imageio import write_png

    stem = record_path.stem
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        segs = record["segments"]
        conf = np.zeros(len(segs) + 1, np.float32)
        conf[[int(s["id"]) for s in segs]] = [float(s["confidence"]) for s in segs]
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise DaconError(record_path, f"not a readable colorize record ({e})") from None
    labels = _labels(out_dir, stem, record, record_path)
    if int(labels.max(initial=0)) != len(segs):
        raise DaconError(record_path, f"names {len(segs)} segments but its frame now has "
                                      f"{int(labels.max(initial=0))}; colorize it again")
    low = conf < threshold
    low[0] = False  # lines
    mask = low[labels]
    image = np.zeros(labels.shape + (4,), np.uint8)
    image[mask] = HIGHLIGHT
    dest = review_dir / f"{stem}.png"
    write_png(dest, image, overwrite=overwrite)
    pixels = int(mask.sum())
    return {"frame": stem, "review": str(dest), "low_segments": int(low.sum()),
            "segments": len(segs), "low_pixels": pixels,
            "low_fraction": round(pixels / max(1, int((labels > 0).sum())), 6)}


def review_shot(out_dir: PathLike, threshold: float = 0.5, review_dir: PathLike | None = None,
                overwrite: bool = True) -> dict:
    """Review every colored frame in ``out_dir``; writes ``review_dir/review.json``.

    Returns {"threshold", "review_dir", "frames": [per frame], "worst": stem or None}.
    """
    threshold = check_threshold(threshold)
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise DaconError(out_dir, "no such output folder")
    records = sorted_by_frame(p for p in out_dir.glob("*.json")
                              if p.with_suffix(".png").exists() or p.with_suffix(".exr").exists())
    if not records:
        raise DaconError(out_dir, "holds no colorized frames (no <frame>.json records)")
    rdir = Path(review_dir) if review_dir is not None else out_dir / "review"
    frames = [review_frame(out_dir, r, threshold, rdir, overwrite) for r in records]
    worst = max(frames, key=lambda f: f["low_pixels"]) if frames else None
    summary = {"threshold": threshold, "review_dir": str(rdir), "frames": frames,
               "worst": worst["frame"] if worst and worst["low_pixels"] > 0 else None}
    atomic_write_text(rdir / "review.json", json.dumps(summary, indent=1) + "\n")
    return summary


__all__ = ["HIGHLIGHT", "check_threshold", "review_frame", "review_shot"]
