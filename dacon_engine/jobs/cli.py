"""The dacon command line: segment, colorize, evaluate, models, synth, train, demo.

Every user-fixable problem ends as one line ``dacon: <file>: <problem>`` on stderr and
exit code 2, with no partial outputs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DaconError

EXIT_USER_ERROR = 2
SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "assets" / "sample_clip"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``dacon: <option> <value>: <what is allowed>``, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"dacon: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def _number(kind: type, ok: Callable[[Any], bool], allowed: str) -> Callable[[str], Any]:
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


def _int_at_least(low: int, multiple: int = 1) -> Callable[[str], int]:
    extra = f" and a multiple of {multiple}" if multiple > 1 else ""
    return _number(int, lambda v: v >= low and v % multiple == 0,
                   f"a whole number >= {low}{extra}")


def _positive_float(upper: float | None = None) -> Callable[[str], float]:
    rng = f"more than 0 and at most {upper:g}" if upper is not None else "more than 0"
    return _number(float, lambda v: 0 < v < math.inf and (upper is None or v <= upper),
                   f"a number {rng}")


_seed = _number(int, lambda v: 0 <= v < 2**32, f"a whole number from 0 to {2**32 - 1}")
_fraction = _number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
_non_negative_float = _number(float, lambda v: 0 <= v < math.inf, "a number >= 0")


def _palette_file(text: str) -> Path:
    """argparse type: a .gpl or .json path (its contents are checked by the command)."""
    if Path(text).suffix.lower() not in (".gpl", ".json"):
        raise argparse.ArgumentTypeError(f"{text}: must be a GIMP .gpl or a .json palette")
    return Path(text)


def _add_palette_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--palette", type=_palette_file, default=None, metavar="FILE",
                   help="snap reference colors to this palette (GIMP .gpl or JSON "
                        '{"name": "#rrggbb"}): every fill is then an exact palette value, '
                        "named in the JSON record and the EXR's Cryptomatte")
    p.add_argument("--palette-tolerance", type=_non_negative_float, default=None,
                   metavar="DELTA_E",
                   help="report reference colors farther than this from every palette entry "
                        "(CIEDE2000 delta-E; default 8)")
    p.add_argument("--strict-palette", action="store_true",
                   help="refuse (exit 2, nothing written) reference colors beyond the "
                        "tolerance instead of snapping them with a warning")


# synthetic drawings keep their parts as closed regions from 64 px; 8192 px is beyond any
# animation frame (memory grows with the square of the size)
SYNTH_MIN, SYNTH_MAX = 64, 8192


_synth_size = _number(int, lambda v: SYNTH_MIN <= v <= SYNTH_MAX,
                      f"a whole number of pixels from {SYNTH_MIN} to {SYNTH_MAX}")


def _formats(text: str) -> tuple[str, ...]:
    fmts = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in ("png", "exr", "json")]
    if bad or not fmts:
        raise argparse.ArgumentTypeError(f"unknown format {bad[0] if bad else text!r} "
                                         "(use png, exr or png,exr)")
    return tuple(dict.fromkeys(("json",) + fmts))


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default",
                   help="model name (see `dacon models`), 'baseline', or a checkpoint path")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--dinov2-weights", default=None,
                   help="DINOv2 weight file (else $DACON_DINOV2_WEIGHTS)")


def _add_line_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--line-mode", default="auto",
                   help="auto (default: fixed on clean art, else adaptive), fixed (luminance "
                        "<= 128, PaintBucket parity) or adaptive (anti-aliased, JPEG, scans)")
    p.add_argument("--trace-color", action="append", default=None, metavar="COLOR",
                   help="color of shading-boundary (trace) lines, repeatable: a name, R,G,B or "
                        "#rrggbb; replaces the default red, blue, green")
    p.add_argument("--line-color", action="append", default=None, metavar="COLOR",
                   help="color of main lines drawn in color (e.g. brown), repeatable: they "
                        "stay line like black")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dacon", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("colorize", help="colorize line-art frames from colored references")
    p.add_argument("targets", nargs="+", metavar="TARGET",
                   help="line-art files, folders or globs, or a clip folder (line/, ref/gt/)")
    p.add_argument("--ref", action="append", default=[], metavar="COLOR",
                   help="colored reference frame or folder (repeatable)")
    p.add_argument("--ref-line", action="append", default=[], metavar="LINE",
                   help="line art of the --ref at the same position (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--mode", default="keyframe", choices=("keyframe", "consecutive", "nearest"))
    p.add_argument("--format", default=("json", "png"), type=_formats,
                   help="png, exr or png,exr (a JSON record is always written)")
    p.add_argument("--gap-radius", type=_int_at_least(0), default=0,
                   help="close line gaps up to about 2N px (at most half the frame's longer side)")
    _add_line_args(p)
    p.add_argument("--batch-size", type=_int_at_least(1), default=4)
    _add_palette_args(p)
    p.add_argument("--graph-refine", action=argparse.BooleanOptionalAction, default=True,
                   help="rescore matches by the segment graph: segments that touch in a "
                        "frame should match segments that touch in the references "
                        "(default: on)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                   help="also match each frame against the references flipped left-right "
                        "and use them where they fit the whole frame better (default: on)")
    p.add_argument("--workers", type=_int_at_least(1), default=1,
                   help="keyframe mode: color frames in N processes at once (each loads the "
                        "model; torch threads are split between them)")
    p.add_argument("--frames", default=None, metavar="A-B",
                   help="colorize only these frame numbers, e.g. 101-148 or 1-10,20 "
                        "(a farm chunk; chained modes continue from the frame before)")
    p.add_argument("--resume", action="store_true",
                   help="keep frames whose outputs are complete; redo missing or broken ones")
    p.add_argument("--contact-sheet", action="store_true",
                   help="also write contact_sheet.png (targets | references | results)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_model_args(p)

    p = sub.add_parser("palette", help="extract a starting palette (distinct colors with "
                                       "pixel counts) from colored reference frames")
    p.add_argument("refs", nargs="+", metavar="REF", help="colored frames, folders or globs")
    p.add_argument("--out", required=True, type=_palette_file, metavar="FILE",
                   help="palette to write: .gpl (GIMP, with pixel counts as comments) or .json")
    p.add_argument("--min-pixels", type=_int_at_least(1), default=1,
                   help="leave out colors with fewer pixels (e.g. JPEG or brush fringes)")
    p.add_argument("--max-colors", type=_int_at_least(1), default=256,
                   help="keep at most this many colors, the most used first")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    p = sub.add_parser("recolor", help="rewrite a colored shot's PNG/EXR with another palette "
                                       "of the same names (no model)")
    p.add_argument("out", type=Path, help="a colorize output folder")
    p.add_argument("--palette", required=True, type=_palette_file, metavar="FILE",
                   help="the new palette (.gpl or .json); it must name every entry the shot uses")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("review", help="highlight low-confidence segments of a colored shot")
    p.add_argument("out", type=Path, help="a colorize output folder")
    p.add_argument("--threshold", type=_fraction, default=0.5,
                   help="segments with confidence below this are highlighted (0..1)")
    p.add_argument("--review-dir", type=Path, default=None,
                   help="where to write the highlight PNGs and review.json (default OUT/review)")

    p = sub.add_parser("serve", help="run the engine service: JSON lines on stdin/stdout "
                                     "(see docs/protocol.md)")
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"),
                   help="default device for jobs that do not name one")

    p = sub.add_parser("doctor", help="check that an interpreter can run the engine")
    p.add_argument("--python", default=None,
                   help="interpreter to check (default: the one running this command)")
    p.add_argument("--timeout", type=_positive_float(), default=120.0,
                   help="seconds to wait for the engine to answer")

    p = sub.add_parser("segment", help="write 24-bit label maps of line-art frames")
    p.add_argument("inputs", nargs="+", metavar="LINE")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--gap-radius", type=_int_at_least(0), default=0)
    _add_line_args(p)
    p.add_argument("--preview", action="store_true",
                   help="also write <stem>_preview.png with each segment in its own color, "
                        "lines black, trace lines magenta, merged specks orange")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("evaluate", help="score predictions against ground truth")
    p.add_argument("pred", type=Path, help="folder of predicted colored frames")
    p.add_argument("gt", type=Path, help="ground-truth folder (colored frames, or seg/+json)")
    p.add_argument("--json", type=Path, default=None, help="write the scores here")
    p.add_argument("--skip-missing", action="store_true",
                   help="leave out ground-truth frames without a prediction (e.g. references)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    p = sub.add_parser("models", help="list the available models and what each needs")
    p.add_argument("--dinov2-weights", default=None)

    p = sub.add_parser("synth", help="generate synthetic clips (PaintBucket layout)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--clips", type=_int_at_least(1), default=4)
    p.add_argument("--frames", type=_int_at_least(1), default=8)
    p.add_argument("--size", type=_synth_size, default=512)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--regime", default="consecutive", choices=("consecutive", "keyframe"))

    p = sub.add_parser("train", help="train segment features (synthetic or PaintBucket data)")
    p.add_argument("--run", required=True, type=Path, help="run folder (resumes from last.pt)")
    p.add_argument("--data", default="synth",
                   help="'synth' or a PaintBucket-Character v2 training root")
    p.add_argument("--steps", type=_int_at_least(1), default=1000)
    p.add_argument("--batch", type=_int_at_least(1), default=2, help="pairs per step")
    p.add_argument("--lr", type=_positive_float(1.0), default=1e-4)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--size", type=_synth_size, nargs="+", default=[384],
                   help="synthetic frame size(s) in px; one is picked per pair")
    p.add_argument("--keyframe-fraction", type=_fraction, default=0.5,
                   help="share of synthetic pairs in the keyframe regime (rest: consecutive)")
    p.add_argument("--warp-fraction", type=_fraction, default=0.0,
                   help="share of synthetic pairs whose target is a warp of the source "
                        "(rotation, scale, mirror, elastic bending); taken before "
                        "--keyframe-fraction splits the rest")
    p.add_argument("--degrade-fraction", type=_fraction, default=0.0,
                   help="chance that a synthetic target's line art is exported anti-aliased, "
                        "resampled, as JPEG or scanned (half that for a source)")
    p.add_argument("--new-shape-fraction", type=_fraction, default=0.0,
                   help="share of synthetic pairs where 1-3 new closed shapes appear inside "
                        "regions of the target (or disappear from the source)")
    p.add_argument("--model-mode", default="unet", choices=("unet", "v1.1", "v1.0"))
    p.add_argument("--unet-base", type=_int_at_least(1), default=16)
    p.add_argument("--unet-input", type=_int_at_least(16, multiple=16), default=384,
                   help="U-Net input size (px; the U-Net halves it 4 times: a multiple of 16)")
    p.add_argument("--coord-input", action="store_true",
                   help="feed x, y in the drawing's box to the U-Net (2 extra channels)")
    p.add_argument("--antialias", action="store_true",
                   help="area-like (antialiased) downsampling of the U-Net input")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", default="auto", choices=("auto", "on", "off"),
                   help="bf16 autocast: auto = only where the device runs bf16 natively")
    p.add_argument("--threads", type=_int_at_least(0), default=0,
                   help="torch threads (0 = torch's default)")
    p.add_argument("--max-minutes", type=_non_negative_float, default=0.0,
                   help="stop after this wall time (minutes; checkpoint saved, --export "
                        "written), whatever --steps says; 0 = no limit")
    p.add_argument("--data-workers", type=_int_at_least(0), default=0,
                   help="processes that make training pairs (0 = the training process; on a "
                        "GPU machine, the CPU cores left, e.g. 12 of 16)")
    p.add_argument("--dinov2-weights", default=None)
    p.add_argument("--init", default=None,
                   help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--export", type=Path, default=None,
                   help="after training, write a shipping checkpoint here")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("farm", help="plan a shot's farm chunks or run one farm task's "
                                    "chunks (see docs/farm.md)")
    from .farm import add_arguments as add_farm_arguments

    add_farm_arguments(p, _int_at_least)

    p = sub.add_parser("demo", help="colorize the bundled sample clip and write a contact sheet")
    p.add_argument("--out", type=Path, default=Path("dacon_demo_out"))
    _add_model_args(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .malloctune import keep_freed_memory

    keep_freed_memory()  # the entry point's process-wide allocator setting (see there)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a refused option (2, one line already printed)
        return int(e.code or 0)
    try:
        return COMMANDS[args.command](args)
    except DaconError as e:
        print(f"dacon: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dacon: interrupted", file=sys.stderr)
        return 130


def _cmd_colorize(args: argparse.Namespace) -> int:
    from .pipeline import ColorizeJob
    from .stopsignals import run_stoppable

    job, summary, code = run_stoppable(lambda: ColorizeJob.from_cli(args))
    if code:
        return code
    if not args.quiet:
        kept = f", {summary.frames_skipped} kept by --resume" if summary.frames_skipped else ""
        print(f"colorized {summary.frames_done} of {summary.frames_total} frames{kept} in "
              f"{summary.seconds:.1f} s into {job.out_dir}")
    return 0


def _cmd_palette(args: argparse.Namespace) -> int:
    from ..matching.palette import palette_command

    r = palette_command(args.refs, args.out, min_pixels=args.min_pixels,
                        max_colors=args.max_colors, overwrite=args.overwrite)
    for name, px in zip(r["colors"], r["pixels"]):
        print(f"{name}  {px} px")
    cut = f" (kept the {r['written']} most used of {r['found']})" \
        if r["found"] > r["written"] else ""
    print(f"wrote {r['written']} colors from {r['frames']} frame(s) to {r['out']}{cut}")
    return 0


def _cmd_recolor(args: argparse.Namespace) -> int:
    from ..outputs.recolor import recolor_shot

    r = recolor_shot(args.out, args.palette)
    if not args.quiet:
        print(f"recolored {r['frames']} frames of {args.out} with {r['palette']}")
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    from ..outputs.review import review_shot

    summary = review_shot(args.out, args.threshold, args.review_dir)
    for f in summary["frames"]:
        print(f"{f['frame']}: {f['low_segments']} of {f['segments']} segments below "
              f"{summary['threshold']:g} ({100 * f['low_fraction']:.1f} % of the drawing)")
    print(f"most to check: {summary['worst'] or 'nothing below the threshold'}; "
          f"highlights in {summary['review_dir']}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .service import serve

    return serve(default_device=args.device)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ..client import doctor, format_doctor

    if args.timeout <= 0:
        raise DaconError(None, f"--timeout {args.timeout}: must be more than 0 seconds")
    report = doctor(args.python or sys.executable, timeout=args.timeout)
    print(format_doctor(report))
    return 0 if report["ok"] else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from .pipeline import ColorizeJob

    if not SAMPLE_CLIP.is_dir():
        raise DaconError(SAMPLE_CLIP, "bundled sample clip is missing from the installation")
    ns = build_parser().parse_args(["colorize", str(SAMPLE_CLIP), "--out", str(args.out),
                                    "--model", args.model, "--device", args.device,
                                    "--contact-sheet", "--overwrite"])
    ns.dinov2_weights = args.dinov2_weights
    job = ColorizeJob.from_cli(ns)
    job.run()
    print(f"wrote {len(job.targets)} colored frames and {args.out / 'contact_sheet.png'} "
          f"(model: {job.colorizer.model_name})")
    return 0


def _cmd_segment(args: argparse.Namespace) -> int:
    from .pipeline import segment_files

    segment_files(args.inputs, args.out, gap_radius=args.gap_radius, preview=args.preview,
                  line_mode=args.line_mode, trace_colors=args.trace_color,
                  line_colors=args.line_color,
                  overwrite=args.overwrite, quiet=args.quiet)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.metrics import evaluate, format_table

    result = evaluate(args.pred, args.gt, out_json=args.json, skip_missing=args.skip_missing,
                      overwrite=args.overwrite)
    print(format_table(result))
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from ..model.registry import list_all_models

    rows = list_all_models(dinov2_weights=args.dinov2_weights)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "ready" if r["available"] else "missing"
        print(f"{r['name']:<{width}}  {state:<7}  {r['description']}  [needs: {r['needs']}]")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from ..synth import synth_command

    synth_command(args.out, clips=args.clips, seed=args.seed, size=args.size,
                  frames=args.frames, regime=args.regime)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ..training.loop import TrainConfig, export_model, train

    cfg = TrainConfig(run_dir=str(args.run), data=args.data, steps=args.steps, batch=args.batch,
                      lr=args.lr, seed=args.seed, device=args.device,
                      size=args.size[0] if len(args.size) == 1 else list(args.size),
                      threads=args.threads, dinov2_weights=args.dinov2_weights, init=args.init,
                      keyframe_fraction=args.keyframe_fraction,
                      warp_fraction=args.warp_fraction, degrade_fraction=args.degrade_fraction,
                      new_shape_fraction=args.new_shape_fraction,
                      data_workers=args.data_workers, max_minutes=args.max_minutes,
                      amp={"auto": None, "on": True, "off": False}[args.amp],
                      model={"mode": args.model_mode, "unet_base": args.unet_base,
                             "unet_input": args.unet_input, "coord_input": args.coord_input,
                             "antialias": args.antialias})
    import signal
    import threading

    def stop(signum: int, _frame: object) -> None:  # a farm's kill: save, then exit 130
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
    try:
        last = train(cfg, quiet=args.quiet)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    if args.export:
        export_model(last, args.export)
        print(f"exported {args.export}")
    return 0


def _cmd_farm(args: argparse.Namespace) -> int:
    from .farm import main as farm_main

    return farm_main(args)


COMMANDS = {
    "colorize": _cmd_colorize,
    "segment": _cmd_segment,
    "evaluate": _cmd_evaluate,
    "models": _cmd_models,
    "synth": _cmd_synth,
    "demo": _cmd_demo,
    "train": _cmd_train,
    "serve": _cmd_serve,
    "review": _cmd_review,
    "palette": _cmd_palette,
    "recolor": _cmd_recolor,
    "doctor": _cmd_doctor,
    "farm": _cmd_farm,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
