"""Command-line argument types and the ``dacon colorize`` arguments, shared by the CLI and
``dacon farm``; :func:`options_from_args` turns parsed arguments into ColorizeOptions.

Argument types refuse a value with one line, ``<value>: must be <what is allowed>``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..options import DEFAULT_ADAPT_SECONDS, DEVICES, FORMATS, MODES, PRECISIONS, ColorizeOptions

EXIT_USER_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``dacon: <option> <value>: <what is allowed>``, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"dacon: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def number(kind: type, ok: Callable[[Any], bool], allowed: str) -> Callable[[str], Any]:
    """argparse type: a ``kind`` (int or float) for which ``ok(value)`` holds, else the
    one-line error ``<text>: must be <allowed>`` (NaN fails every comparison)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"{text}: must be {allowed}")
        return value
    return parse


def int_at_least(low: int, multiple: int = 1) -> Callable[[str], int]:
    extra = f" and a multiple of {multiple}" if multiple > 1 else ""
    return number(int, lambda v: v >= low and v % multiple == 0,
                   f"a whole number >= {low}{extra}")


def positive_float(upper: float | None = None) -> Callable[[str], float]:
    rng = f"more than 0 and at most {upper:g}" if upper is not None else "more than 0"
    return number(float, lambda v: 0 < v < math.inf and (upper is None or v <= upper),
                   f"a number {rng}")


seed = number(int, lambda v: 0 <= v < 2**32, f"a whole number from 0 to {2**32 - 1}")
fraction = number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
non_negative_float = number(float, lambda v: 0 <= v < math.inf, "a number >= 0")


def palette_file(text: str) -> Path:
    """argparse type: a .gpl or .json path (its contents are checked by the command)."""
    if Path(text).suffix.lower() not in (".gpl", ".json"):
        raise argparse.ArgumentTypeError(f"{text}: must be a GIMP .gpl or a .json palette")
    return Path(text)


def add_palette_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--palette", type=palette_file, default=None, metavar="FILE",
                   help="snap reference colors to this palette (GIMP .gpl or JSON "
                        '{"name": "#rrggbb"}): every fill is then an exact palette value, '
                        "named in the JSON record and the EXR's Cryptomatte")
    p.add_argument("--palette-tolerance", type=non_negative_float, default=None,
                   metavar="DELTA_E",
                   help="report reference colors farther than this from every palette entry "
                        "(CIEDE2000 delta-E; default 8)")
    p.add_argument("--strict-palette", action="store_true",
                   help="refuse (exit 2, nothing written) reference colors beyond the "
                        "tolerance instead of snapping them with a warning")


# synthetic drawings keep their parts as closed regions from 64 px; 8192 px is beyond any
# animation frame (memory grows with the square of the size)
SYNTH_MIN, SYNTH_MAX = 64, 8192


synth_size = number(int, lambda v: SYNTH_MIN <= v <= SYNTH_MAX,
                      f"a whole number of pixels from {SYNTH_MIN} to {SYNTH_MAX}")


def formats(text: str) -> tuple[str, ...]:
    fmts = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise argparse.ArgumentTypeError(f"unknown format {bad[0] if bad else text!r} "
                                         "(use png, exr or png,exr)")
    return tuple(dict.fromkeys(("json",) + fmts))


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default",
                   help="model name (see `dacon models`), 'baseline', or a checkpoint path")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="network precision: auto (default: bf16 where the device runs it "
                        "natively - AVX512-BF16/AMX CPUs, bf16 GPUs - else fp32), fp32, or "
                        "bf16 (refused where it would be emulated)")
    p.add_argument("--dinov2-weights", default=None,
                   help="DINOv2 weight file (else $DACON_DINOV2_WEIGHTS)")


def add_line_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--line-mode", default="auto",
                   help="auto (default: fixed on clean art, else adaptive), fixed (luminance "
                        "<= 128, PaintBucket parity), adaptive (anti-aliased, JPEG, scans) or "
                        "learned (a small trained line extractor for such art)")
    p.add_argument("--trace-color", action="append", default=None, metavar="COLOR",
                   help="color of shading-boundary (trace) lines, repeatable: a name, R,G,B or "
                        "#rrggbb; replaces the default red, blue, green")
    p.add_argument("--line-color", action="append", default=None, metavar="COLOR",
                   help="color of main lines drawn in color (e.g. brown), repeatable: they "
                        "stay line like black")




def add_colorize_arguments(p: argparse.ArgumentParser) -> None:
    """The ``dacon colorize`` arguments (``dacon farm`` checks its colorize options with them)."""
    p.add_argument("targets", nargs="+", metavar="TARGET",
                   help="line-art files, folders or globs, or a clip folder (line/, ref/gt/)")
    p.add_argument("--ref", action="append", default=[], metavar="COLOR",
                   help="colored reference frame or folder (repeatable)")
    p.add_argument("--ref-line", action="append", default=[], metavar="LINE",
                   help="line art of the --ref at the same position (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--mode", default="keyframe", choices=MODES)
    p.add_argument("--format", default=("json", "png"), type=formats,
                   help="png, exr or png,exr (a JSON record is always written)")
    p.add_argument("--gap-radius", type=int_at_least(0), default=0,
                   help="close line gaps up to about 2N px (at most half the frame's longer side)")
    add_line_args(p)
    p.add_argument("--batch-size", type=int_at_least(1), default=4)
    add_palette_args(p)
    p.add_argument("--graph-refine", action=argparse.BooleanOptionalAction, default=True,
                   help="rescore matches by the segment graph: segments that touch in a "
                        "frame should match segments that touch in the references "
                        "(default: on)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                   help="also match each frame against the references flipped left-right "
                        "and use them where they fit the whole frame better (default: on)")
    p.add_argument("--ref-zoom", type=zooms, default=(), metavar="Z[,Z]",
                   help="also match against each reference magnified Z times (windows of "
                        "1/Z of it, lines redrawn at its pen width), for close-ups of a "
                        "full-figure sheet, e.g. 2 or 2,3 (default: off)")
    p.add_argument("--adapt", action="store_true",
                   help="learn this character first: fine-tune the model on pairs made from "
                        "the references alone (warped, closer, new shapes, exported), for at "
                        f"most --adapt-seconds (default {DEFAULT_ADAPT_SECONDS:g}); kept only "
                        "where it beats the base model on held-out pairs; cached per shot in "
                        "$DACON_CACHE_DIR (else ~/.cache/dacon)")
    p.add_argument("--adapt-seconds", type=non_negative_float, default=None, metavar="S",
                   help="time budget of --adapt in seconds (given alone it turns --adapt on; "
                        "0 = off)")
    p.add_argument("--workers", type=int_at_least(1), default=1,
                   help="N >= 2 processes, every mode: whole keyframe frames per worker on "
                        "the CPU; with a GPU or chained frames, N workers read, segment and "
                        "write for the one process that holds the model")
    p.add_argument("--frames", default=None, metavar="A-B",
                   help="colorize only these frame numbers, e.g. 101-148 or 1-10,20 "
                        "(a farm chunk; chained modes continue from the frame before)")
    p.add_argument("--resume", action="store_true",
                   help="keep frames whose outputs are complete; redo missing or broken ones")
    p.add_argument("--contact-sheet", action="store_true",
                   help="also write contact_sheet.png (targets | references | results)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_args(p)


def colorize_parser() -> argparse.ArgumentParser:
    """A parser of ``dacon colorize``'s arguments alone (what ``dacon farm`` hands it)."""
    p = Parser(prog="dacon colorize")
    add_colorize_arguments(p)
    return p


def zooms(text: str) -> tuple[float, ...]:
    """argparse type of ``--ref-zoom``: comma-separated magnifications."""
    try:
        return tuple(float(z) for z in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: must be magnifications such as 2 or "
                                         "2,3") from None


def options_from_args(args: argparse.Namespace) -> ColorizeOptions:
    """The colorize options of a parsed ``dacon colorize`` (or ``demo``) command line."""
    return ColorizeOptions.from_flat(
        mode=args.mode, formats=tuple(args.format), gap_radius=args.gap_radius,
        frames=getattr(args, "frames", None), overwrite=args.overwrite,
        resume=getattr(args, "resume", False), batch_size=args.batch_size,
        workers=getattr(args, "workers", 1), contact_sheet=args.contact_sheet,
        model=args.model, device=args.device,
        precision=getattr(args, "precision", "auto"),
        dinov2_weights=getattr(args, "dinov2_weights", None),
        line_mode=getattr(args, "line_mode", "auto"),
        trace_colors=getattr(args, "trace_color", None),
        line_colors=getattr(args, "line_color", None),
        palette=getattr(args, "palette", None),
        palette_tolerance=getattr(args, "palette_tolerance", None),
        strict_palette=getattr(args, "strict_palette", False),
        graph_refine=getattr(args, "graph_refine", True), mirror=getattr(args, "mirror", True),
        reference_zooms=getattr(args, "ref_zoom", ()),
        adapt_seconds=adapt_seconds(args))


def adapt_seconds(args: argparse.Namespace) -> float:
    """The per-shot adaptation budget a command line asks for (0: off)."""
    given = getattr(args, "adapt_seconds", None)
    if given is not None:
        return float(given)
    return DEFAULT_ADAPT_SECONDS if getattr(args, "adapt", False) else 0.0
