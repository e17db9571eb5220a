"""File-level jobs behind the CLI and the engine service: inputs -> outputs on disk.

A job checks everything it can before writing anything (inputs exist and decode, the
output folder is writable, no output would be overwritten without ``overwrite``), then
writes each frame's outputs atomically.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .colorizer import Colorizer, FrameResult
from .errors import DaconError
from .files import check_writable_dir, collect_images

OUTPUT_SUFFIX = {"png": ".png", "json": ".json", "exr": ".exr"}


def _check_outputs_free(out_dir: Path, stems: Sequence[str], formats: Sequence[str],
                        overwrite: bool) -> None:
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
        if seen[s] == 2:
            raise DaconError(out_dir / s, "two targets share this file name; their outputs "
                             "would collide (colorize them into separate --out folders)")
    if overwrite:
        return
    for s in stems:
        for f in formats:
            p = out_dir / (s + OUTPUT_SUFFIX[f])
            if p.exists():
                raise DaconError(p, "already exists (use --overwrite to replace it)")


def _preflight_images(paths: Sequence[Path]) -> None:
    from .imageio import read_image

    for p in paths:
        read_image(p)  # raises DaconError naming the file


@dataclass
class ColorizeJob:
    """Colorize target files from reference files into an output folder."""

    targets: list[Path]
    ref_colors: list[Path]
    ref_lines: list[Path | None]
    out_dir: Path
    colorizer: Colorizer
    mode: str = "keyframe"
    formats: tuple[str, ...] = ("json", "png")
    overwrite: bool = False
    quiet: bool = False
    batch_size: int = 4
    contact_sheet: bool = False

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> "ColorizeJob":
        from .references import expand_reference_paths, find_clip_layout

        targets: list[Path]
        ref_colors = [Path(r) for r in args.ref]
        ref_lines: list[Path | None] = [Path(r) for r in args.ref_line]
        clip = None
        if len(args.targets) == 1 and Path(args.targets[0]).is_dir():
            clip = find_clip_layout(args.targets[0])
        if clip is not None:
            targets, clip_colors, clip_lines = clip
            if not ref_colors:
                ref_colors, ref_lines = list(clip_colors), list(clip_lines)
        else:
            targets = collect_images(args.targets)
        if not ref_colors:
            raise DaconError(None, "no references: give --ref COLOR (or a clip folder with ref/gt/)")
        pairs = expand_reference_paths(ref_colors, ref_lines)
        colors, lines = [c for c, _ in pairs], [ln for _, ln in pairs]
        out_dir = check_writable_dir(args.out)
        _check_outputs_free(out_dir, [t.stem for t in targets], args.format, args.overwrite)
        if args.contact_sheet:
            _check_outputs_free(out_dir, ["contact_sheet"], ["png"], args.overwrite)
        _preflight_images(list(targets))
        colorizer = Colorizer(args.model, device=args.device, gap_radius=args.gap_radius,
                              dinov2_weights=getattr(args, "dinov2_weights", None))
        return cls(targets=list(targets), ref_colors=list(colors), ref_lines=lines,
                   out_dir=out_dir, colorizer=colorizer, mode=args.mode,
                   formats=tuple(args.format), overwrite=args.overwrite, quiet=args.quiet,
                   batch_size=args.batch_size, contact_sheet=args.contact_sheet)

    def run(self) -> list[FrameResult]:
        """Load references, colorize every target, write outputs; return the results."""
        from .outputs import write_frame_outputs

        for color, line in zip(self.ref_colors, self.ref_lines):
            self.colorizer.add_reference(color, line, name=str(color))
        sources = self.colorizer.reference_names()
        if self.mode != "keyframe":  # colored targets join the bank: name them too
            sources += [str(t) for t in self.targets]
        kept: list[FrameResult] = []
        bar = tqdm(total=len(self.targets), unit="frame", desc="colorize",
                   disable=self.quiet or len(self.targets) < 2)
        for result in self.colorizer.colorize(self.targets, self.mode,
                                              batch_size=self.batch_size):
            write_frame_outputs(self.out_dir, result.name, result.frame, result.assignment,
                                formats=self.formats, model_name=self.colorizer.model_name,
                                references=sources, overwrite=self.overwrite)
            if self.contact_sheet:
                kept.append(result)
            bar.update(1)
        bar.close()
        if self.contact_sheet:
            self._write_contact_sheet(kept)
        return kept

    def _write_contact_sheet(self, results: list[FrameResult]) -> None:
        from .contact_sheet import make_contact_sheet

        results = sorted(results, key=lambda r: r.index)
        refs = [r.extra.get("color_rgba", r.frame.line) for r in self.colorizer.references]
        rows, captions = [], []
        for k, r in enumerate(results):
            ref = refs[min(k, len(refs) - 1)]
            rows.append([r.frame.line, ref, r.image()])
            captions.append(r.name)
        make_contact_sheet(rows, captions, self.out_dir / "contact_sheet.png",
                           overwrite=self.overwrite)


def segment_files(inputs: Sequence[str], out_dir: Path, *, gap_radius: int = 0,
                  preview: bool = False, overwrite: bool = False, quiet: bool = False) -> None:
    """Write ``<stem>.png`` label maps (and optional previews) for line-art files."""
    from .imageio import write_png
    from .labelmap import write_label_map
    from .segments import segment_frame

    paths = collect_images(inputs)
    out_dir = check_writable_dir(out_dir)
    stems = [p.stem for p in paths]
    _check_outputs_free(out_dir, stems, ["png"], overwrite)
    if preview:
        _check_outputs_free(out_dir, [s + "_preview" for s in stems], ["png"], overwrite)
    _preflight_images(paths)
    for p in tqdm(paths, unit="frame", desc="segment", disable=quiet or len(paths) < 2):
        frame = segment_frame(p, gap_radius=gap_radius)
        write_label_map(out_dir / f"{p.stem}.png", frame.labels, overwrite=overwrite)
        if preview:
            write_png(out_dir / f"{p.stem}_preview.png", preview_image(frame.labels),
                      overwrite=overwrite)


def preview_image(labels: np.ndarray) -> np.ndarray:
    """HxWx4: each segment in its own pseudo-random color, lines black."""
    rng = np.random.default_rng(12345)
    lut = rng.integers(64, 256, size=(int(labels.max()) + 1, 4), dtype=np.uint8)
    lut[:, 3] = 255
    lut[0] = (0, 0, 0, 255)
    return lut[labels]
