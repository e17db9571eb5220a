"""Trace colored segments into polygons (outlines with holes), for vector fills.

From a colorized frame's segment label map (``segment.id`` of its EXR, or its line art
segmented again) and its JSON record (one color per segment), write ``<stem>.trace.json``:
one entry per visible segment, in painting order (containers first), each with polygons in
pixel coordinates (x right, y down, pixel (0, 0) covers [0, 1) x [0, 1)):

    {"frame": stem, "width": W, "height": H, "source": line art path, "epsilon": 0.5,
     "expand": true, "segments": [
        {"id": 3, "color": [r, g, b, a], "area": px,
         "polygons": [{"outer": [[x, y], ...],
                       "holes": [{"points": [[x, y], ...], "clear": false}, ...]}]}]}

* ``expand`` (default): line pixels are first given to their nearest segment, so the
  segments tile the picture and fills meet under the middle of each line instead of
  leaving slivers along it.
* Outlines follow pixel edges to within a quarter pixel (the mask is traced at twice its
  size) and are simplified with Douglas-Peucker (``epsilon`` px, OpenCV approxPolyDP).
* Segments whose color is fully transparent (the paper outside a character) are not
  listed. A hole is ``clear`` when some of it shows such a transparent segment: a
  renderer must cut it out (e.g. a holdout stroke) there. A hole that is not clear is
  covered by the segments inside it, which come later in the list, so painting the
  outer polygons in list order is already right.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import DaconError
from ..fileio.files import atomic_write_text

PathLike = str | os.PathLike
TRACE_SUFFIX = ".trace.json"
MIN_POLYGON_AREA = 0.5  # px^2: smaller outer pieces (corner specks of the tiling) are dropped


def fill_line_pixels(labels: np.ndarray) -> np.ndarray:
    """Give every line pixel (label 0) the label of its nearest segment pixel (L2).

    Returns HxW int32 with no zeros (unless there is no segment at all).
    """
    lab = np.ascontiguousarray(labels, dtype=np.int32)
    line = np.ascontiguousarray((lab == 0).astype(np.uint8))
    if not line.any() or line.all():
        return lab.copy()
    # zero pixels of the source (segment pixels) are the seeds; each gets its own index
    _dist, idx = cv2.distanceTransformWithLabels(line, cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    seeds = line == 0
    lut = np.zeros(int(idx.max()) + 1, np.int32)
    lut[idx[seeds]] = lab[seeds]
    out = lut[idx]
    out[seeds] = lab[seeds]
    return out


def _points(contour: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """Contour of the 2x mask (crop at x0, y0) -> float (k, 2) original pixel coordinates."""
    p = contour.reshape(-1, 2).astype(np.float64)
    return np.column_stack([x0 + (p[:, 0] + 0.5) / 2.0, y0 + (p[:, 1] + 0.5) / 2.0])


def trace_labels(labels: np.ndarray, colors: np.ndarray | None = None, *,
                 epsilon: float = 0.5, expand: bool = True) -> list[dict]:
    """Polygons of every visible segment of ``labels`` (HxW, 0 = line, 1..n).

    colors: (n, 4) uint8 RGBA of labels 1..n (row i = label i+1) or None (all visible,
    no color in the output). Returns the ``segments`` list described in the module
    docstring, containers first.
    """
    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be HxW, got {lab.shape}")
    h, w = lab.shape
    n = int(lab.max(initial=0))
    if n == 0:
        return []
    cols = None if colors is None else np.asarray(colors, np.uint8).reshape(-1, 4)
    if cols is not None and cols.shape[0] != n:
        raise ValueError(f"expected {n} colors, got {cols.shape[0]}")
    full = fill_line_pixels(lab) if expand else np.ascontiguousarray(lab, np.int32)
    clear = np.zeros(n + 1, bool)
    if cols is not None:
        clear[1:] = cols[:, 3] == 0
    clear_map = clear[full]

    flat = full.ravel()
    counts = np.bincount(flat, minlength=n + 1)
    order = np.argsort(flat, kind="stable")
    ys, xs = np.divmod(order, w)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    present = np.flatnonzero(counts[1:]) + 1
    s = starts[present]
    x0s, x1s = np.minimum.reduceat(xs, s), np.maximum.reduceat(xs, s)
    y0s, y1s = np.minimum.reduceat(ys, s), np.maximum.reduceat(ys, s)
    eps2 = max(0.0, float(epsilon)) * 2.0

    out = []
    for k, x0, x1, y0, y1 in zip(present.tolist(), x0s.tolist(), x1s.tolist(),
                                 y0s.tolist(), y1s.tolist()):
        if clear[k]:
            continue
        sl = slice(int(starts[k]), int(starts[k] + counts[k]))
        ox, oy = x0 - 1, y0 - 1  # one px of padding so outlines close at the crop edge
        mask = np.zeros((y1 - y0 + 3, x1 - x0 + 3), np.uint8)
        mask[ys[sl] - oy, xs[sl] - ox] = 255
        big = cv2.resize(mask, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        contours, hier = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        if hier is None:
            continue
        hier = hier.reshape(-1, 4)
        tmask = None
        polys = []
        for i, c in enumerate(contours):
            if hier[i, 3] != -1:
                continue  # a hole: handled with its parent
            area = cv2.contourArea(c) / 4.0
            if area < MIN_POLYGON_AREA:
                continue
            outer = cv2.approxPolyDP(c, eps2, True) if eps2 > 0 else c
            holes = []
            j = hier[i, 2]
            while j != -1:
                hc = contours[j]
                if cv2.contourArea(hc) / 4.0 >= MIN_POLYGON_AREA:
                    if tmask is None:
                        tcrop = np.zeros_like(mask)
                        ya, yb = max(oy, 0), min(oy + mask.shape[0], h)
                        xa, xb = max(ox, 0), min(ox + mask.shape[1], w)
                        tcrop[ya - oy:yb - oy, xa - ox:xb - ox] = \
                            clear_map[ya:yb, xa:xb].view(np.uint8) * 255
                        tmask = cv2.resize(tcrop, None, fx=2, fy=2,
                                           interpolation=cv2.INTER_NEAREST)
                    hm = np.zeros_like(big)
                    cv2.drawContours(hm, [hc], 0, 255, thickness=-1)
                    is_clear = bool(cv2.countNonZero(cv2.bitwise_and(hm, tmask)))
                    hp = cv2.approxPolyDP(hc, eps2, True) if eps2 > 0 else hc
                    if len(hp) >= 3:
                        holes.append({"points": _points(hp, ox, oy), "clear": is_clear})
                j = hier[j, 0]
            if len(outer) >= 3:
                polys.append((area, _points(outer, ox, oy), holes))
        if not polys:
            continue
        polys.sort(key=lambda p: -p[0])
        seg = {"id": k, "area": int(counts[k]), "_size": polys[0][0],
               "polygons": [{"outer": _round(p), "holes": [
                   {"points": _round(hl["points"]), "clear": hl["clear"]} for hl in holes]}
                   for _a, p, holes in polys]}
        if cols is not None:
            seg["color"] = cols[k - 1].tolist()
        out.append(seg)
    out.sort(key=lambda sg: (-sg["_size"], sg["id"]))  # containers before what they contain
    for sg in out:
        del sg["_size"]
    return out


def _round(p: np.ndarray) -> list[list[float]]:
    return np.round(p, 3).tolist()


def trace_frame(out_dir: PathLike, record_path: PathLike, *, epsilon: float = 0.5,
                expand: bool = True) -> dict:
    """Trace one colorized frame; writes ``<stem>.trace.json`` beside its record.

    Returns {"frame", "trace" (path), "segments", "polygons", "holes", "clear_holes"}.
    """
    from .records import frame_labels, read_record, segment_array

    out_dir, record_path = Path(out_dir), Path(record_path)
    stem = record_path.stem
    record = read_record(record_path)
    if record is None:
        raise DaconError(record_path, "is not a colorize record")
    colors = np.asarray(segment_array(record, "color"), np.uint8).reshape(-1, 4)
    labels = frame_labels(record_path, record)
    traced = trace_labels(labels, colors, epsilon=epsilon, expand=expand)
    h, w = labels.shape
    doc = {"frame": stem, "width": int(w), "height": int(h),
           "source": record.get("frame", {}).get("source"), "epsilon": float(epsilon),
           "expand": bool(expand), "segments": traced}
    dest = out_dir / f"{stem}{TRACE_SUFFIX}"
    atomic_write_text(dest, json.dumps(doc, separators=(",", ":")) + "\n")
    polys = [p for s in traced for p in s["polygons"]]
    holes = [hl for p in polys for hl in p["holes"]]
    return {"frame": stem, "trace": str(dest), "segments": len(traced), "polygons": len(polys),
            "holes": len(holes), "clear_holes": sum(1 for hl in holes if hl["clear"])}


def records(out_dir: PathLike) -> list[Path]:
    """The colorize records (``<stem>.json``) of an output folder, in frame order."""
    from .records import record_paths

    return record_paths(out_dir)


def trace_shot(out_dir: PathLike, *, epsilon: float = 0.5, expand: bool = True,
               frames: Sequence[str] | None = None, on_frame=None) -> dict:
    """Trace every colorized frame of ``out_dir`` (or only the stems in ``frames``).

    on_frame(result, k, n) is called after each frame. Returns {"frames": [...],
    "seconds"}.
    """
    if not float(epsilon) >= 0:
        raise DaconError(None, f"epsilon {epsilon}: must be >= 0")
    recs = records(out_dir)
    if frames is not None:
        wanted = set(frames)
        recs = [r for r in recs if r.stem in wanted]
        missing = wanted - {r.stem for r in recs}
        if missing:
            raise DaconError(out_dir, f"has no colorized frame {sorted(missing)[0]!r}")
    if not recs:
        raise DaconError(out_dir, "holds no colorized frames (no <frame>.json records)")
    t0 = time.perf_counter()
    results = []
    for k, r in enumerate(recs, 1):
        results.append(trace_frame(out_dir, r, epsilon=epsilon, expand=expand))
        if on_frame is not None:
            on_frame(results[-1], k, len(recs))
    return {"frames": results, "seconds": round(time.perf_counter() - t0, 4)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dacon_engine.outputs.trace OUT [--epsilon E] [--no-expand]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m dacon_engine.outputs.trace",
                                description="trace colorized segments into polygons "
                                            "(<stem>.trace.json beside each record)")
    p.add_argument("out", type=Path, help="a colorize output folder")
    p.add_argument("--epsilon", type=float, default=0.5,
                   help="outline simplification in px (Douglas-Peucker; 0 = none)")
    p.add_argument("--no-expand", action="store_true",
                   help="keep line pixels out of the fills (default: fills meet under lines)")
    p.add_argument("--frames", nargs="*", default=None, help="only these frame stems")
    args = p.parse_args(argv)
    try:
        summary = trace_shot(args.out, epsilon=args.epsilon, expand=not args.no_expand,
                             frames=args.frames)
    except DaconError as e:
        print(f"dacon trace: {e}", file=sys.stderr)
        return 2
    for f in summary["frames"]:
        print(f"{f['frame']}: {f['segments']} segments, {f['polygons']} polygons, "
              f"{f['holes']} holes ({f['clear_holes']} clear) -> {f['trace']}")
    return 0


__all__ = ["TRACE_SUFFIX", "fill_line_pixels", "records", "trace_frame", "trace_labels",
           "trace_shot"]

if __name__ == "__main__":
    sys.exit(main())
