"""Write generated clips in the PaintBucket-Character layout.

<clip>/line/NNNN.png         RGBA line art
<clip>/gt/NNNN.png           RGBA flat colors (lines [0,0,0,255], background [0,0,0,0])
<clip>/seg/NNNN.png          24-bit label map of segment_line_art(line) (0 = line)
<clip>/seg/NNNN.json         {"<label>": [r, g, b, a]}: most frequent gt color per segment
<clip>/json_color/NNNN.json  the same table (training layout)
<clip>/label/NNNN.png        24-bit part-map ids (like the dataset's mesh-part labels)
<clip>/ref/{gt,line,seg}/0000.*  the design sheet
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .render import Clip, SynthFrame, make_clip


def segment(line: np.ndarray) -> tuple[np.ndarray, int]:
    """Segments of a line-art RGBA image (the project's segmentation, cv2 fallback)."""
    try:
        from ..segmentation.segments import segment_line_art
    except ImportError:  # pragma: no cover - fallback while segments.py is missing
        import cv2

        free = (line[..., 3] < 128).astype(np.uint8)
        n, lab = cv2.connectedComponents(free, connectivity=4, ltype=cv2.CV_32S)
        return lab, n - 1
    return segment_line_art(line)


def segment_table(labels: np.ndarray, n: int, gt: np.ndarray) -> np.ndarray:
    """(n, 4) uint8: most frequent gt RGBA per segment (row i = label i+1)."""
    from ..segmentation.references import segment_colors

    return segment_colors(labels, n, gt)


def _write_png(path: Path, arr: np.ndarray) -> None:
    from ..fileio.images import write_png

    write_png(path, arr)


def _write_labels(path: Path, labels: np.ndarray) -> None:
    from ..fileio.labelmap import write_label_map

    write_label_map(path, labels)


def write_frame(frame: SynthFrame, root: Path, stem: str, *, json_color: bool = True,
                label: bool = True) -> int:
    """Write line/gt/seg(+json) for one frame under root; returns the segment count."""
    root = Path(root)
    _write_png(root / "line" / f"{stem}.png", frame.line)
    _write_png(root / "gt" / f"{stem}.png", frame.gt)
    labels, n = segment(frame.line)
    _write_labels(root / "seg" / f"{stem}.png", labels)
    colors = segment_table(labels, n, frame.gt)
    table = json.dumps({str(i + 1): [int(v) for v in c] for i, c in enumerate(colors)})
    (root / "seg" / f"{stem}.json").write_text(table)
    if json_color:
        (root / "json_color").mkdir(parents=True, exist_ok=True)
        (root / "json_color" / f"{stem}.json").write_text(table)
    if label:
        _write_labels(root / "label" / f"{stem}.png", frame.part_map)
    return n


def write_clip(clip: Clip, out_dir, *, start: int = 0) -> Path:
    """Write a clip (frames NNNN from ``start``) and its design sheet as ref/…/0000."""
    out = Path(out_dir)
    for i, f in enumerate(clip.frames):
        write_frame(f, out, f"{start + i:04d}")
    write_frame(clip.reference, out / "ref", "0000", json_color=False, label=False)
    return out


def synth_command(out_dir, clips: int = 10, seed: int = 0, size: int = 512, frames: int = 8,
                  regime: str = "both", progress: bool = True) -> list[Path]:
    """CLI body of ``dacon synth``: write ``clips`` clips to out_dir/clip_NNNNN.

    regime: consecutive | keyframe | both (alternating). Clip k uses seed + k.
    """
    if regime not in ("consecutive", "keyframe", "both"):
        raise ValueError(f"regime must be consecutive, keyframe or both, got {regime!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    it = range(int(clips))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="synth", unit="clip")
    paths = []
    for k in it:
        r = regime if regime != "both" else ("consecutive", "keyframe")[k % 2]
        clip = make_clip(int(seed) + k, int(frames), size, r)
        paths.append(write_clip(clip, out / f"clip_{k:05d}"))
    return paths
