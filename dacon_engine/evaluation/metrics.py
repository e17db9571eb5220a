"""Evaluation with the BasicPBC / DACoN protocol (PaintBucket-Character metrics).

Per frame, over the ground-truth (GT) segments (line pixels are never counted):
  * Acc        correct segments / all segments. Correct = exact RGBA match.
  * Acc-Thres  the same over segments of more than 10 px (strictly). (BasicPBC counts
               labels > 10 px in the seg PNG minus 1 for the line label: the same thing
               whenever a frame has more than 10 line pixels.)
  * Pix-Acc    pixels of correct segments / all segment pixels.
  * Pix-F-Acc  the same over segments whose GT color is not background.
  * Pix-B-MIoU pixel IoU of the background class: pixels of segments that are background
               in both GT and prediction / pixels of segments background in either.
Background = RGBA [0,0,0,0] or [255,255,255,0] (BasicPBC's set; DACoN only uses the
latter). For the background metrics both count as the same class, so GT [0,0,0,0]
predicted as [255,255,255,0] is a background hit but still wrong for Acc.

Documented choices for degenerate frames:
  * Pix-B-MIoU is 1.0 when neither GT nor prediction has any background (as BasicPBC;
    DACoN's code gives 0 there).
  * A metric whose denominator is empty (no segment > 10 px, no foreground segment, no
    segments at all) is None for that frame and left out of the mean.
  * Segments with no pixels in the GT label map are ignored.
Frame scores are averaged over frames (macro average); values are fractions in [0, 1].
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import DaconError
from ..fileio.files import atomic_write_text, list_images
from ..segmentation.references import pack_rgba, segment_colors

PathLike = str | os.PathLike

BACKGROUND_COLORS = np.array([[0, 0, 0, 0], [255, 255, 255, 0]], np.uint8)
THRESHOLD_PX = 10
METRICS = ("acc", "acc_thres", "pix_acc", "pix_f_acc", "pix_b_miou")
METRIC_NAMES = {"acc": "Acc", "acc_thres": "Acc-Thres", "pix_acc": "Pix-Acc",
                "pix_f_acc": "Pix-F-Acc", "pix_b_miou": "Pix-B-MIoU"}


def is_background(colors: np.ndarray) -> np.ndarray:
    """(n, 4) uint8 -> (n,) bool: color is [0,0,0,0] or [255,255,255,0]."""
    return np.isin(pack_rgba(np.asarray(colors)), pack_rgba(BACKGROUND_COLORS))


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def frame_metrics(gt_labels: np.ndarray, gt_colors: np.ndarray,
                  pred_colors: np.ndarray) -> dict:
    """Metrics of one frame.

    gt_labels: HxW int (0 = line, 1..n = GT segments); gt_colors, pred_colors: (n, 4)
    uint8, row i = label i+1 (pred_colors = the predicted color of each GT segment).
    Returns {acc, acc_thres, pix_acc, pix_f_acc, pix_b_miou (float | None), b_miou,
    n_segments, n_pixels, n_correct}.
    """
    gt_colors = np.asarray(gt_colors, np.uint8)
    pred_colors = np.asarray(pred_colors, np.uint8)
    n = len(gt_colors)
    if gt_colors.shape != (n, 4) or pred_colors.shape != (n, 4):
        raise ValueError(f"colors must both be ({n}, 4): {gt_colors.shape}, {pred_colors.shape}")
    lab = np.asarray(gt_labels).ravel()
    lab = lab[(lab >= 1) & (lab <= n)]
    area = np.bincount(lab, minlength=n + 1)[1:].astype(np.int64)
    valid = area > 0
    area, gt, pred = area[valid], gt_colors[valid], pred_colors[valid]
    correct = np.all(gt == pred, axis=1)
    big = area > THRESHOLD_PX
    gt_bg, pred_bg = is_background(gt), is_background(pred)
    fg = ~gt_bg
    inter, union = gt_bg & pred_bg, gt_bg | pred_bg
    return {
        "acc": _ratio(correct.sum(), len(area)),
        "acc_thres": _ratio(correct[big].sum(), big.sum()),
        "pix_acc": _ratio(area[correct].sum(), area.sum()),
        "pix_f_acc": _ratio(area[correct & fg].sum(), area[fg].sum()),
        "pix_b_miou": _ratio(area[inter].sum(), area[union].sum()) if union.any() else 1.0,
        "b_miou": _ratio(inter.sum(), union.sum()) if union.any() else 1.0,
        "n_segments": len(area),
        "n_pixels": int(area.sum()),
        "n_correct": int(correct.sum()),
    }


def mean_metrics(rows: list[dict]) -> dict:
    """Macro average over frames of each metric, skipping None values."""
    out: dict = {}
    for k in (*METRICS, "b_miou"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    out["n_frames"] = len(rows)
    return out


# --- reading ground truth -------------------------------------------------------------

def _read_seg_json(path: Path, n: int) -> np.ndarray:
    """``{"id": [r,g,b,a]}`` -> (n, 4) uint8; every label 1..n must be present."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = {int(k): v for k, v in data.items()}
    except (OSError, ValueError, AttributeError) as e:
        raise DaconError(path, f"cannot read segment colors ({e})") from None
    colors = np.zeros((n, 4), np.uint8)
    missing = [k for k in range(1, n + 1) if k not in items]
    if missing:
        raise DaconError(path, f"segment {missing[0]} has no color "
                               f"({len(missing)} of {n} segments missing)")
    try:
        arr = np.array([items[k] for k in range(1, n + 1)], np.int64).reshape(n, -1)
    except ValueError:
        raise DaconError(path, "segment colors must be [r, g, b, a] lists") from None
    if arr.shape[1] == 3:
        arr = np.concatenate([arr, np.full((n, 1), 255)], 1)
    if arr.shape[1] != 4 or (arr < 0).any() or (arr > 255).any():
        raise DaconError(path, "segment colors must be [r, g, b, a] lists of 0..255")
    colors[:] = arr
    return colors


def _gt_frames(gt_dir: Path) -> list[tuple[str, Path, Path | None, Path | None]]:
    """(stem, main file, seg png or None, seg json or None) per GT frame.

    Layouts: ``<gt_dir>/seg/NNNN.png`` (+ ``NNNN.json`` colors, or ``<gt_dir>/gt/NNNN.png``
    colored frames); ``gt_dir`` itself holding ``NNNN.png`` + ``NNNN.json``; or a plain
    folder of colored frames (segments taken from the flat colors).
    """
    if not gt_dir.is_dir():
        raise DaconError(gt_dir, "ground-truth folder not found")
    seg_dir = gt_dir / "seg" if (gt_dir / "seg").is_dir() else None
    if seg_dir is None:
        imgs = list_images(gt_dir)
        if imgs and all(p.with_suffix(".json").is_file() for p in imgs):
            seg_dir = gt_dir
    if seg_dir is None:
        imgs = list_images(gt_dir)
        if not imgs:
            raise DaconError(gt_dir, "ground-truth folder holds no image files")
        return [(p.stem, p, None, None) for p in imgs]
    segs = [p for p in list_images(seg_dir) if p.suffix.lower() == ".png"]
    if not segs:
        raise DaconError(seg_dir, "segment folder holds no .png label maps")
    out = []
    for s in segs:
        js = s.with_suffix(".json")
        if js.is_file():
            out.append((s.stem, s, s, js))
            continue
        color = gt_dir / "gt" / s.name
        if not color.is_file():
            raise DaconError(s, f"no colors for this segment map (expected {js.name} "
                                f"beside it or {color})")
        out.append((s.stem, color, s, None))
    return out


def _load_gt(main: Path, seg: Path | None, seg_json: Path | None,
             ) -> tuple[np.ndarray, np.ndarray]:
    """-> (labels HxW int32, colors (n, 4) uint8) of one GT frame."""
    from ..fileio import images as imageio, labelmap

    if seg is None:
        from ..segmentation import segments

        rgba = imageio.read_image(main)
        labels, n = segments.segments_from_color(rgba, path=main)
        labels = np.asarray(labels, np.int32)
        return labels, segment_colors(labels, int(n), rgba)
    labels = np.asarray(labelmap.read_label_map(seg), np.int32)
    n = int(labels.max()) if labels.size else 0
    if seg_json is not None:
        return labels, _read_seg_json(seg_json, n)
    rgba = imageio.read_image(main)
    if rgba.shape[:2] != labels.shape:
        raise DaconError(main, f"size {rgba.shape[1]}x{rgba.shape[0]} does not match "
                               f"segment map {seg} {labels.shape[1]}x{labels.shape[0]}")
    return labels, segment_colors(labels, n, rgba)


def _find_prediction(pred_dir: Path, stem: str) -> Path | None:
    png = pred_dir / f"{stem}.png"
    if png.is_file():
        return png
    for p in list_images(pred_dir):
        if p.stem == stem and p.suffix.lower() != ".exr":
            return p
    return None


def evaluate(pred_dir: PathLike, gt_dir: PathLike, out_json: PathLike | None = None, *,
             stems: list[str] | None = None, skip_missing: bool = False,
             overwrite: bool = False) -> dict:
    """Score a folder of predicted colored frames against ground truth.

    pred_dir: colored RGBA frames named like the GT frames (stem match), e.g. our PNGs.
    gt_dir:   see :func:`_gt_frames` for the accepted layouts.
    stems:    evaluate only these frame stems (default: every GT frame).
    skip_missing: leave out GT frames with no prediction (listed under "skipped", e.g.
              the reference frames of a clip) instead of raising DaconError.
    The predicted color of a GT segment is the most frequent prediction RGBA inside it.
    Returns {"protocol", "mean": {...}, "frames": [per-frame rows]}; also written as JSON
    to ``out_json`` (atomically; not over an existing file unless ``overwrite``).
    """
    from ..fileio import images as imageio

    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not pred_dir.is_dir():
        raise DaconError(pred_dir, "prediction folder not found")
    if out_json is not None and not overwrite and Path(out_json).exists():
        raise DaconError(out_json, "already exists (use --overwrite to replace it)")
    frames = _gt_frames(gt_dir)
    if stems is not None:
        wanted = set(stems)
        unknown = sorted(wanted - {f[0] for f in frames})
        if unknown:
            raise DaconError(gt_dir, f"no ground truth for frame {unknown[0]!r}")
        frames = [f for f in frames if f[0] in wanted]
    # fail on a missing prediction before any (slow) scoring
    preds, skipped = {}, []
    for stem, main, _, _ in frames:
        p = _find_prediction(pred_dir, stem)
        if p is None and not skip_missing:
            raise DaconError(pred_dir / f"{stem}.png",
                             f"missing prediction for ground-truth frame {main}")
        if p is None:
            skipped.append(stem)
        else:
            preds[stem] = p
    frames = [f for f in frames if f[0] in preds]
    if not frames:
        raise DaconError(pred_dir, "no prediction matches a ground-truth frame")
    rows = []
    for stem, main, seg, seg_json in frames:
        labels, gt_colors = _load_gt(main, seg, seg_json)
        pred = imageio.read_image(preds[stem])
        if pred.shape[:2] != labels.shape:
            raise DaconError(preds[stem], f"size {pred.shape[1]}x{pred.shape[0]} does not "
                                          f"match ground truth {main} "
                                          f"{labels.shape[1]}x{labels.shape[0]}")
        pred_colors = segment_colors(labels, len(gt_colors), pred)
        row = {"frame": stem, "prediction": os.fspath(preds[stem]),
               "ground_truth": os.fspath(main)}
        row.update(frame_metrics(labels, gt_colors, pred_colors))
        rows.append(row)
    result = {
        "protocol": "BasicPBC: exact RGBA per GT segment; background = [0,0,0,0] or "
                    "[255,255,255,0]; Acc-Thres counts segments > 10 px; macro average "
                    "over frames; Pix-B-MIoU = 1.0 when no background",
        "mean": mean_metrics(rows),
        "frames": rows,
        "skipped": skipped,
    }
    if out_json is not None:
        atomic_write_text(out_json, json.dumps(_json_safe(result), indent=1) + "\n",
                          overwrite=overwrite)
    return result


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def format_table(result: dict, *, per_frame: bool = True) -> str:
    """A fixed-width text table (percent, 2 decimals) of per-frame rows and the mean."""
    def fmt(v) -> str:
        return "-" if v is None else f"{100.0 * v:.2f}"

    rows = result.get("frames", []) if per_frame else []
    names = [r["frame"] for r in rows] + ["mean"]
    w0 = max(5, *(len(n) for n in names))
    cols = [METRIC_NAMES[k] for k in METRICS]
    widths = [max(len(c), 7) for c in cols]
    lines = ["frame".ljust(w0) + "  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines.append("-" * len(lines[0]))
    for r in rows:
        lines.append(r["frame"].ljust(w0) + "  " + "  ".join(
            fmt(r.get(k)).rjust(w) for k, w in zip(METRICS, widths)))
    mean = result.get("mean", {})
    if rows:
        lines.append("-" * len(lines[0]))
    lines.append("mean".ljust(w0) + "  " + "  ".join(
        fmt(mean.get(k)).rjust(w) for k, w in zip(METRICS, widths))
        + f"   ({mean.get('n_frames', len(rows))} frames)")
    return "\n".join(lines)


__all__ = [
    "BACKGROUND_COLORS",
    "METRICS",
    "METRIC_NAMES",
    "THRESHOLD_PX",
    "evaluate",
    "format_table",
    "frame_metrics",
    "is_background",
    "mean_metrics",
]
