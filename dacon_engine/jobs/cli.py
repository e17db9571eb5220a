"""The dacon command line: colorize, palette, recolor, review, serve, doctor, segment,
evaluate, models, synth, train, farm, demo.

Every user-fixable problem ends as one line ``dacon: <file>: <problem>`` on stderr and
exit code 2, with no partial outputs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DaconError
from ..options import DEVICES, LineOptions
from .arguments import (
    EXIT_USER_ERROR,
    Parser,
    add_colorize_arguments,
    add_line_args,
    add_model_args,
    fraction,
    int_at_least,
    non_negative_float,
    palette_file,
    positive_float,
    seed,
    synth_size,
)
from .farm import add_arguments as add_farm_arguments

SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "assets" / "sample_clip"


def _add_colorize_command(sub: Any) -> None:
    p = sub.add_parser("colorize", help="colorize line-art frames from colored references")
    add_colorize_arguments(p)


def _add_palette_command(sub: Any) -> None:
    p = sub.add_parser("palette", help="extract a starting palette (distinct colors with "
                                       "pixel counts) from colored reference frames")
    p.add_argument("refs", nargs="+", metavar="REF", help="colored frames, folders or globs")
    p.add_argument("--out", required=True, type=palette_file, metavar="FILE",
                   help="palette to write: .gpl (GIMP, with pixel counts as comments) or .json")
    p.add_argument("--min-pixels", type=int_at_least(1), default=1,
                   help="leave out colors with fewer pixels (e.g. JPEG or brush fringes)")
    p.add_argument("--max-colors", type=int_at_least(1), default=256,
                   help="keep at most this many colors, the most used first")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def _add_recolor_command(sub: Any) -> None:
    p = sub.add_parser("recolor", help="rewrite a colored shot's PNG/EXR with another palette "
                                       "of the same names (no model)")
    p.add_argument("out", type=Path, help="a colorize output folder")
    p.add_argument("--palette", required=True, type=palette_file, metavar="FILE",
                   help="the new palette (.gpl or .json); it must name every entry the shot uses")
    p.add_argument("--quiet", action="store_true")


def _add_review_command(sub: Any) -> None:
    p = sub.add_parser("review", help="highlight low-confidence segments of a colored shot")
    p.add_argument("out", type=Path, help="a colorize output folder")
    p.add_argument("--threshold", type=fraction, default=0.5,
                   help="segments with confidence below this are highlighted (0..1)")
    p.add_argument("--review-dir", type=Path, default=None,
                   help="where to write the highlight PNGs and review.json (default OUT/review)")


def _add_serve_command(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the engine service: JSON lines on stdin/stdout "
                                     "(see docs/protocol.md)")
    p.add_argument("--device", default=None, choices=DEVICES,
                   help="default device for jobs that do not name one")


def _add_doctor_command(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check that an interpreter can run the engine")
    p.add_argument("--python", default=None,
                   help="interpreter to check (default: the one running this command)")
    p.add_argument("--timeout", type=positive_float(), default=120.0,
                   help="seconds to wait for the engine to answer")


def _add_segment_command(sub: Any) -> None:
    p = sub.add_parser("segment", help="write 24-bit label maps of line-art frames")
    p.add_argument("inputs", nargs="+", metavar="LINE")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--gap-radius", type=int_at_least(0), default=0)
    add_line_args(p)
    p.add_argument("--preview", action="store_true",
                   help="also write <stem>_preview.png with each segment in its own color, "
                        "lines black, trace lines magenta, merged specks orange")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")


def _add_evaluate_command(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="score predictions against ground truth")
    p.add_argument("pred", type=Path, help="folder of predicted colored frames")
    p.add_argument("gt", type=Path, help="ground-truth folder (colored frames, or seg/+json)")
    p.add_argument("--json", type=Path, default=None, help="write the scores here")
    p.add_argument("--skip-missing", action="store_true",
                   help="leave out ground-truth frames without a prediction (e.g. references)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def _add_models_command(sub: Any) -> None:
    p = sub.add_parser("models", help="list the available models and what each needs")
    p.add_argument("--dinov2-weights", default=None)


def _add_synth_command(sub: Any) -> None:
    p = sub.add_parser("synth", help="generate synthetic clips (PaintBucket layout)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--clips", type=int_at_least(1), default=4)
    p.add_argument("--frames", type=int_at_least(1), default=8)
    p.add_argument("--size", type=synth_size, default=512)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--regime", default="consecutive", choices=("consecutive", "keyframe"))


def _add_train_command(sub: Any) -> None:
    p = sub.add_parser("train", help="train segment features (synthetic or PaintBucket data)")
    p.add_argument("--run", required=True, type=Path, help="run folder (resumes from last.pt)")
    p.add_argument("--data", default="synth",
                   help="'synth' or a PaintBucket-Character v2 training root")
    p.add_argument("--steps", type=int_at_least(1), default=1000)
    p.add_argument("--batch", type=int_at_least(1), default=2, help="pairs per step")
    p.add_argument("--lr", type=positive_float(1.0), default=1e-4)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--size", type=synth_size, nargs="+", default=[384],
                   help="synthetic frame size(s) in px; one is picked per pair")
    p.add_argument("--keyframe-fraction", type=fraction, default=0.5,
                   help="share of synthetic pairs in the keyframe regime (rest: consecutive)")
    p.add_argument("--warp-fraction", type=fraction, default=0.0,
                   help="share of synthetic pairs whose target is a warp of the source "
                        "(rotation, scale, mirror, elastic bending); taken before "
                        "--keyframe-fraction splits the rest")
    p.add_argument("--degrade-fraction", type=fraction, default=0.0,
                   help="chance that a synthetic target's line art is exported anti-aliased, "
                        "resampled, as JPEG or scanned (half that for a source)")
    p.add_argument("--new-shape-fraction", type=fraction, default=0.0,
                   help="share of synthetic pairs where 1-3 new closed shapes appear inside "
                        "regions of the target (or disappear from the source)")
    p.add_argument("--closeup-fraction", type=fraction, default=0.0,
                   help="share of synthetic pairs where the camera moves in 1.4-3.5x on part "
                        "of the target (a quarter of them: of the source), cut by the border")
    p.add_argument("--model-mode", default="unet", choices=("unet", "v1.1", "v1.0"))
    p.add_argument("--unet-base", type=int_at_least(1), default=16)
    p.add_argument("--unet-input", type=int_at_least(16, multiple=16), default=384,
                   help="U-Net input size (px; the U-Net halves it 4 times: a multiple of 16)")
    p.add_argument("--coord-input", action="store_true",
                   help="feed x, y in the drawing's box to the U-Net (2 extra channels)")
    p.add_argument("--antialias", action="store_true",
                   help="area-like (antialiased) downsampling of the U-Net input")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", default="auto", choices=("auto", "on", "off"),
                   help="bf16 autocast: auto = only where the device runs bf16 natively")
    p.add_argument("--threads", type=int_at_least(0), default=0,
                   help="torch threads (0 = torch's default)")
    p.add_argument("--max-minutes", type=non_negative_float, default=0.0,
                   help="stop after this wall time (minutes; checkpoint saved, --export "
                        "written), whatever --steps says; 0 = no limit")
    p.add_argument("--data-workers", type=int_at_least(0), default=0,
                   help="processes that make training pairs (0 = the training process; on a "
                        "GPU machine, the CPU cores left, e.g. 12 of 16)")
    p.add_argument("--dinov2-weights", default=None)
    p.add_argument("--init", default=None,
                   help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--export", type=Path, default=None,
                   help="after training, write a shipping checkpoint here")
    p.add_argument("--quiet", action="store_true")


def _add_farm_command(sub: Any) -> None:
    p = sub.add_parser("farm", help="plan a shot's farm chunks or run one farm task's "
                                    "chunks (see docs/farm.md)")
    add_farm_arguments(p)


def _add_demo_command(sub: Any) -> None:
    p = sub.add_parser("demo", help="colorize the bundled sample clip and write a contact sheet")
    p.add_argument("--out", type=Path, default=Path("dacon_demo_out"))
    add_model_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dacon", description="DACoN paint-bucket colorization: line-art "
                    "frames colored from colored references, and the tools around it.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in (_add_colorize_command, _add_palette_command, _add_recolor_command,
                _add_review_command, _add_serve_command, _add_doctor_command,
                _add_segment_command, _add_evaluate_command, _add_models_command,
                _add_synth_command, _add_train_command, _add_farm_command, _add_demo_command):
        add(sub)
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
        procs = {"frames": f" by {summary.workers} processes (whole frames each)",
                 "stages": f" by {summary.workers} processes feeding the model"
                 }.get(summary.layout or "", "")
        print(f"colorized {summary.frames_done} of {summary.frames_total} frames{kept}{procs} "
              f"in {summary.seconds:.1f} s into {job.out_dir}")
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
                                    "--precision", args.precision,
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
                  line_options=LineOptions(args.line_mode, args.trace_color, args.line_color),
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
                      closeup_fraction=args.closeup_fraction,
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
