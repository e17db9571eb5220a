"""Review a colored shot: where is the engine unsure?

From each frame's JSON record (per-segment confidence) and its segments (see
:mod:`dacon_engine.outputs.records`), write
``<review dir>/<stem>.png``: segments whose confidence is below a threshold filled with a
translucent highlight, everything else transparent, so it can sit above the colored frames
in an editor; plus ``review.json`` with each frame's low-confidence area and the frame with
the most of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import DaconError
from ..fileio.files import atomic_write_text, check_inputs_kept
from .records import frame_labels, read_record, record_paths, segment_array

HIGHLIGHT = (255, 0, 255, 170)  # magenta, translucent
PathLike = str | os.PathLike


def check_threshold(threshold: float, option: str = "--threshold") -> float:
    t = float(threshold)
    if not 0.0 <= t <= 1.0:  # also refuses NaN
        raise DaconError(None, f"{option} {threshold}: must be between 0 and 1")
    return t


def review_frame(out_dir: Path, record_path: Path, threshold: float, review_dir: Path,
                 overwrite: bool = True) -> dict:
    """Write one frame's highlight PNG; its low-confidence figures."""
    from ..fileio.images import write_png

    stem = record_path.stem
    record = read_record(record_path)
    if record is None:
        raise DaconError(record_path, "is not a colorize record")
    conf = np.zeros(record["n_segments"] + 1, np.float32)
    conf[1:] = segment_array(record, "confidence")
    labels = frame_labels(record_path, record)
    segs = record["segments"]
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


def _check_review_dir(out_dir: Path, records: list[Path], rdir: Path) -> None:
    """Refuse a review folder where a highlight would replace a colored frame, its record
    or its line art."""
    kept = [p for r in records for p in (r.with_suffix(".png"), r.with_suffix(".exr"), r)]
    sources = [(read_record(r) or {}).get("frame", {}).get("source") for r in records]
    kept += [Path(s) for s in sources if s]
    check_inputs_kept(kept, rdir, [r.stem + ".png" for r in records] + ["review.json"],
                      option="--review-dir")


def review_shot(out_dir: PathLike, threshold: float = 0.5, review_dir: PathLike | None = None,
                overwrite: bool = True) -> dict:
    """Review every colored frame in ``out_dir``; writes ``review_dir/review.json``.

    Returns {"threshold", "review_dir", "frames": [per frame], "worst": stem or None}.
    """
    threshold = check_threshold(threshold)
    out_dir = Path(out_dir)
    records = record_paths(out_dir)
    if not records:
        raise DaconError(out_dir, "holds no colorized frames (no <frame>.json records)")
    rdir = Path(review_dir) if review_dir is not None else out_dir / "review"
    _check_review_dir(out_dir, records, rdir)
    frames = [review_frame(out_dir, r, threshold, rdir, overwrite) for r in records]
    worst = max(frames, key=lambda f: f["low_pixels"]) if frames else None
    summary = {"threshold": threshold, "review_dir": str(rdir), "frames": frames,
               "worst": worst["frame"] if worst and worst["low_pixels"] > 0 else None}
    atomic_write_text(rdir / "review.json", json.dumps(summary, indent=1) + "\n")
    return summary


__all__ = ["HIGHLIGHT", "check_threshold", "review_frame", "review_shot"]
