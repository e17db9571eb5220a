"""``dacon farm plan|run``: a shot split into frame chunks for a render farm.

Both commands take the shot the way ``dacon colorize`` does and plan it the same way
(:func:`frameranges.plan_shot`, against the shot's real frame numbers and the chain order
the job itself uses), so every farm task computes the same plan where it runs:

* ``plan`` checks everything up front (the frame spec, every input, as ``colorize`` would)
  and prints the chunks, what each waits for and which task runs it.
* ``run --task K`` colorizes task K's chunks with ``--resume`` (idempotent: a re-run or a
  re-queued task redoes only missing or broken frames). Chunks that wait for each other
  share a task and run in that order, so chained modes equal one uninterrupted run;
  keyframe chunks spread over the tasks, which may run at the same time.

The Flamenco job type (scripts/flamenco/) and the Open Job Description bundle
(farm/openjd/) are thin wrappers around these two commands; see docs/farm.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
import time
from pathlib import Path

from ..errors import DaconError
from ..options import MODES
from .arguments import colorize_parser, int_at_least
from .frameranges import Chunk, format_ranges, plan_shot, task_order

# colorize options a farm task sets itself: refused in --colorize-options
_OWNED = {"frames": "--frames", "out": "--out", "overwrite": "--overwrite",
          "contact_sheet": "--contact-sheet", "resume": "--resume"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("plan", "run"),
                   help="plan: check and print the chunks; run: colorize one task's chunks")
    p.add_argument("targets", nargs="+", metavar="TARGET",
                   help="line-art folder (or files, globs, a clip folder), as for colorize")
    p.add_argument("--out", required=True, help="output folder (shared by all tasks)")
    p.add_argument("--refs", default="", metavar="'A;B'",
                   help="colored reference files or folders, ';'-separated "
                        "(empty: the clip's ref/gt/)")
    p.add_argument("--ref-lines", default="", metavar="'A;B'",
                   help="their line art in the same order, ';'-separated (may be empty)")
    p.add_argument("--mode", default="keyframe", choices=MODES)
    p.add_argument("--frames", default="", metavar="A-B",
                   help="frame numbers, e.g. 1-240 or 1-100,120-240 (empty: the whole shot); "
                        "ranges must not overlap and each must hold a frame of the shot")
    p.add_argument("--chunk-size", type=int_at_least(1), default=24,
                   help="frames per chunk (at most)")
    p.add_argument("--tasks", type=int_at_least(1), default=1,
                   help="farm tasks the chunks are spread over")
    p.add_argument("--task", type=int_at_least(1), default=None,
                   help="run: which task (1..--tasks)")
    p.add_argument("--json", action="store_true", help="plan: print the plan as JSON")
    p.add_argument("--colorize-options", default="", metavar="'OPTIONS'",
                   help="further dacon colorize options in one string, e.g. "
                        "--colorize-options='--device cuda --format png,exr'")


def _split(text: str) -> list[str]:
    return [s.strip() for s in str(text).split(";") if s.strip()]


def _colorize_args(args: argparse.Namespace, frames: str | None) -> argparse.Namespace:
    """The ``dacon colorize`` arguments of this farm job (``--resume``, quiet)."""
    extra = shlex.split(args.colorize_options)
    parser = colorize_parser()
    probe = parser.parse_args(["_", "--out", "_", *extra])
    if probe.targets != ["_"]:
        raise DaconError(None, f"--colorize-options {args.colorize_options!r}: "
                               f"{probe.targets[1]}: targets are not options")
    base = parser.parse_args(["_", "--out", "_"])
    for key, option in _OWNED.items():
        if getattr(probe, key) != getattr(base, key):
            why = f"use dacon farm {option}" if key in ("frames", "out") else \
                "farm tasks always resume and write no contact sheet"
            raise DaconError(None, f"--colorize-options {args.colorize_options!r}: {option} "
                                   f"is set by dacon farm itself ({why})")
    argv = [*args.targets, "--out", args.out, "--mode", args.mode, "--resume",
            "--quiet", *extra]
    for ref in _split(args.refs):
        argv += ["--ref", ref]
    for line in _split(args.ref_lines):
        argv += ["--ref-line", line]
    if frames:
        argv += ["--frames", frames]
    return parser.parse_args(argv)


def shot_inputs(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The shot's targets and reference color files, resolved as ``colorize`` does."""
    from ..segmentation.references import shot_and_references

    shot, pairs = shot_and_references(args.targets, _split(args.refs), _split(args.ref_lines),
                                      refs_option="--refs")
    return shot, [c for c, _ in pairs]


def make_plan(args: argparse.Namespace, check: bool = False) -> list[Chunk]:
    """Plan the job's chunks (DaconError when refused).

    check: first check every input and option as ``colorize`` would (the plan step);
    farm tasks only plan, so they never hold frames other tasks write.
    """
    from ..colorizer import processing_order
    from ..fileio.files import frame_number
    from .frameranges import check_disjoint, parse_frame_ranges

    if args.frames:  # the spec's own faults first, before any file is read
        check_disjoint(parse_frame_ranges(args.frames), args.frames)
    out = Path(args.out)
    created = not out.exists()
    try:
        if check:
            from .pipeline import ColorizeJob

            # every check colorize makes; the job is never run, so it holds no frames
            ColorizeJob.from_cli(_colorize_args(args, args.frames or None)).claim.release()
        targets, refs = shot_inputs(args)
        numbers = [frame_number(t) for t in targets]
        missing = next((t for t, n in zip(targets, numbers) if n is None), None)
        if missing is not None:
            raise DaconError(missing, "has no frame number in its name; farm chunks need "
                                      "numbered files")
        order = processing_order(targets, [str(c) for c in refs], args.mode)
        return plan_shot([int(n) for n in numbers], args.frames, args.chunk_size, order,
                         args.tasks)
    except DaconError:
        if created:  # refused: leave nothing behind, as colorize does
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def plan_dict(args: argparse.Namespace, chunks: list[Chunk]) -> dict:
    return {"mode": args.mode, "frames": args.frames, "chunk_size": args.chunk_size,
            "tasks": args.tasks,
            "chunks": [{"frames": c.spec, "count": c.count, "task": c.task,
                        "after": [chunks[k].spec for k in c.after]} for c in chunks]}


def main(args: argparse.Namespace) -> int:
    if args.action == "run" and args.task is None:
        raise DaconError(None, "dacon farm run: --task is required (1..--tasks)")
    if args.task is not None and args.task > args.tasks:
        raise DaconError(None, f"--task {args.task}: more than --tasks {args.tasks}")
    chunks = make_plan(args, check=args.action == "plan")
    if args.action == "plan":
        if args.json:
            print(json.dumps(plan_dict(args, chunks), indent=1))
            return 0
        frames = sum(c.count for c in chunks)
        print(f"dacon farm: {frames} frames in {len(chunks)} chunks of up to "
              f"{args.chunk_size}, {args.mode} mode, {args.tasks} tasks")
        for c in chunks:
            after = f"  after {', '.join(chunks[k].spec for k in c.after)}" if c.after else ""
            frames = "1 frame" if c.count == 1 else f"{c.count} frames"
            print(f"  chunk {c.spec}: {frames}, task {c.task}{after}")
        return 0
    mine = [chunks[k] for k in task_order(chunks, args.task)]
    name = f"task {args.task}/{args.tasks}"
    if not mine:
        print(f"{name}: no chunks (the plan has {len(chunks)}; chunks that wait for each "
              "other share a task)")
        return 0
    spec = format_ranges(sorted((c.first, c.last) for c in mine))
    print(f"{name}: chunks {', '.join(c.spec for c in mine)}", flush=True)
    from .pipeline import ColorizeJob
    from .stopsignals import run_stoppable

    t0 = time.perf_counter()
    job, summary, code = run_stoppable(lambda: ColorizeJob.from_cli(_colorize_args(args, spec)),
                                       prefix=f"dacon farm: {name}")
    if code:
        return code
    print(f"{name}: colorized {summary.frames_done} of {summary.frames_selected} frames, "
          f"{summary.frames_skipped} kept by --resume, in {time.perf_counter() - t0:.1f} s "
          f"into {job.out_dir}")
    sys.stdout.flush()
    return 1 if summary.cancelled else 0
