"""File-level jobs behind the CLI and the engine service: inputs -> outputs on disk.

A job checks everything it can before writing anything (inputs exist and decode, the
output folder is writable, no output would be overwritten without ``overwrite`` and none
ever replaces an input, no other live job writes the same frames there: see
:mod:`outclaim`), then clears what a killed run left of its frames (temp files) and writes
each frame's outputs atomically.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import os
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..colorizer import Colorizer, FrameResult
from ..errors import DaconError
from ..fileio.files import (
    check_inputs_kept,
    check_writable_dir,
    clear_stale_temps,
    collect_images,
    frame_number,
    same_folder,
)
from ..frames import Reference
from ..matching.bank import SegmentFeaturizer
from ..matching.palette import Palette
from ..options import ColorizeOptions, LineOptions, check_gap_radius, check_line_options
from ..outputs.records import read_record, segment_array
from ..segmentation.references import shot_and_references
from .arguments import options_from_args
from .frameranges import in_ranges, parse_frame_ranges
from .outclaim import Claim, claim_frames

OUTPUT_SUFFIX = {"png": ".png", "json": ".json", "exr": ".exr"}
WRITES_IN_FLIGHT = 2  # frames waiting in the writer thread at most


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


def _check_inputs_kept(out: str | os.PathLike, targets: Sequence[Path],
                       others: Sequence[str | os.PathLike], stems: Sequence[str],
                       formats: Sequence[str], contact_sheet: bool = False) -> None:
    """Refuse a job whose outputs could replace one of its inputs: the output folder is a
    target's folder (colored frames would replace or mix with the line art), or an output
    name is a reference, line or palette file there."""
    seen: set[Path] = set()
    for t in targets:
        folder = Path(t).parent
        if folder in seen:
            continue
        seen.add(folder)
        if same_folder(folder, out):
            raise DaconError(t, f"is a target in the output folder {out}: the colored frames "
                                "would replace or mix with the line art; choose another "
                                "--out")
    names = [s + OUTPUT_SUFFIX[f] for s in stems for f in formats]
    check_inputs_kept(others, out, names + (["contact_sheet.png"] if contact_sheet else []))


def _preflight_images(paths: Sequence[Path], gap_radius: int = 0) -> None:
    """Every file decodes (DaconError naming the first that does not) and the gap radius
    means something for its size."""
    from ..fileio.images import read_image

    for p in paths:
        image = read_image(p)
        check_gap_radius(gap_radius, image.shape[:2], p)


def outputs_complete(out_dir: Path, stem: str, formats: Sequence[str]) -> bool:
    """Whether every requested output of ``stem`` exists and reads back whole."""
    from ..fileio.images import read_image
    from ..outputs.write import read_exr_outputs

    for fmt in formats:
        path = out_dir / (stem + OUTPUT_SUFFIX[fmt])
        if not path.is_file():
            return False
        try:
            if fmt == "json":
                if read_record(path) is None:
                    return False
            elif fmt == "png":
                read_image(path)
            else:
                read_exr_outputs(path)
        except (DaconError, OSError, ValueError, KeyError, TypeError):
            return False
    return True


def _select_frames(targets: Sequence[Path], frames: str | None) -> list[int]:
    """Indices of the targets inside the ``--frames`` spec (all when None)."""
    if frames is None:
        return list(range(len(targets)))
    ranges = parse_frame_ranges(frames)
    numbers = []
    for t in targets:
        n = frame_number(t)
        if n is None:
            raise DaconError(t, "has no frame number in its name; --frames needs numbered files")
        numbers.append(n)
    chosen = [i for i, n in enumerate(numbers) if in_ranges(n, ranges)]
    if not chosen:
        raise DaconError(None, f"--frames {frames}: no target frame in this range (the targets "
                               f"are frames {min(numbers)}-{max(numbers)})")
    return chosen


def _frames_to_do(out_dir: Path, stems: Sequence[str], chosen: Sequence[int],
                  opts: ColorizeOptions) -> tuple[list[int], list[int]]:
    """(frames to colorize, frames ``--resume`` keeps); refuses outputs that would be
    overwritten without ``--overwrite`` and frame names that collide."""
    _check_outputs_free(out_dir, stems, (), True)  # duplicate names collide
    resumed: list[int] = []
    if opts.resume:
        resumed = [i for i in chosen if outputs_complete(out_dir, stems[i], opts.formats)]
        todo = [i for i in chosen if i not in set(resumed)]
    else:
        todo = list(chosen)
        _check_outputs_free(out_dir, [stems[i] for i in todo], opts.formats, opts.overwrite)
    if opts.contact_sheet:
        _check_outputs_free(out_dir, ["contact_sheet"], ["png"], opts.overwrite or opts.resume)
    return todo, resumed


def _stderr_log(message: str) -> None:
    import sys

    print(f"dacon: {message}", file=sys.stderr, flush=True)


@dataclass
class JobSummary:
    """What a colorize job did (the CLI prints it; the service sends it as ``job_done``)."""

    frames_total: int          # targets in the shot
    frames_selected: int       # inside --frames
    frames_done: int           # colorized by this run
    frames_skipped: int        # complete outputs kept by --resume
    cancelled: bool
    seconds: float
    timings: dict[str, float]  # seconds per stage: references, segment, features, match, write
    outputs: list[str]
    model: str
    device: str
    adaptation: dict | None = None  # what per-shot adaptation did (--adapt), else None
    workers: int = 1                # processes besides this one (--workers; 1: none)
    layout: str | None = None       # how they split the job: "frames" or "stages" (workers.py,
    #                                 stages.py); None with one process

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["fps"] = round(self.frames_done / self.seconds, 3) if self.seconds > 0 else 0.0
        d["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return d


FrameCallback = Callable[[FrameResult, list[Path], int, int], None]


@dataclass
class ColorizeJob:
    """Colorize target files from reference files into an output folder.

    ``targets`` is the whole shot in frame order; ``selected`` the indices this run
    colorizes (``--frames`` minus the frames ``--resume`` found complete). In the chained
    modes a selected frame whose neighbour is not colorized in this run chains from that
    neighbour's existing outputs (its JSON record), else from the references.
    """

    targets: list[Path]
    ref_colors: list[Path]
    ref_lines: list[Path | None]
    out_dir: Path
    colorizer: Colorizer  # its ``options`` are the job's (checked, the palette loaded)
    quiet: bool = False
    selected: list[int] | None = None
    in_range: int | None = None
    resumed: list[int] = field(default_factory=list)
    claim: Claim = field(default_factory=Claim)  # the frames of out_dir this job holds
    claimed: list[str] = field(default_factory=list)
    created_dir: bool = False  # out_dir did not exist: removed again if the run leaves it empty

    def __post_init__(self) -> None:
        weakref.finalize(self, self.claim.release)  # a job made but never run

    @property
    def mode(self) -> str:
        return self.colorizer.options.mode

    @property
    def formats(self) -> tuple[str, ...]:
        return self.colorizer.options.formats

    @property
    def overwrite(self) -> bool:
        """Existing outputs may be replaced (``--overwrite``, or ``--resume`` redoing one)."""
        return self.colorizer.options.overwrite or self.colorizer.options.resume

    @property
    def batch_size(self) -> int:
        return self.colorizer.options.batch_size

    @property
    def contact_sheet(self) -> bool:
        return self.colorizer.options.contact_sheet

    @property
    def workers(self) -> int:
        return self.colorizer.options.workers

    @property
    def palette(self) -> Palette | None:
        return self.colorizer.palette

    @classmethod
    def create(cls, targets: Sequence[str | os.PathLike], *, out: str | os.PathLike,
               refs: Sequence[str | os.PathLike] = (),
               ref_lines: Sequence[str | os.PathLike | None] = (),
               options: ColorizeOptions | None = None, quiet: bool = False,
               featurizer: SegmentFeaturizer | None = None,
               log: Callable[[str], None] | None = None, **flat_options: Any) -> "ColorizeJob":
        """Check every input and option, then build the job (nothing is written yet).

        options: a ColorizeOptions, or its flat names as keywords (``mode="nearest"``...).
        Off-palette reference colors are reported through ``log`` (stderr without one)
        here, or refused with ``strict_palette``, before anything is written.
        """
        if not os.fspath(out).strip():
            raise DaconError(None, "--out is empty: give the output folder")
        opts = (options or ColorizeOptions()).replace(**flat_options).check()
        from ..matching.palette import check_palette_options

        palette = check_palette_options(opts.palette.file, opts.palette.tolerance,
                                        opts.palette.strict)
        opts = dataclasses.replace(opts, palette=dataclasses.replace(opts.palette, file=palette))
        shot, pairs = shot_and_references(targets, refs, ref_lines)
        chosen = _select_frames(shot, opts.frames)
        colorizer = Colorizer(featurizer, opts, log=log,
                              keep_reference_images=opts.contact_sheet)
        stems = [t.stem for t in shot]
        _check_inputs_kept(out, shot, [c for c, _ in pairs] + [ln for _, ln in pairs if ln]
                           + ([palette.source] if palette is not None and palette.source
                              else []), stems, opts.formats, opts.contact_sheet)
        created = not Path(out).exists()
        out_dir = check_writable_dir(out)
        claimed = [stems[i] for i in chosen] + (["contact_sheet"] if opts.contact_sheet else [])
        claim = Claim()
        try:
            claim = claim_frames(out_dir, claimed)
            todo, resumed = _frames_to_do(out_dir, stems, chosen, opts)
            _preflight_images([shot[i] for i in todo] + [c for c, _ in pairs] +
                              [ln for _, ln in pairs if ln is not None], opts.gap_radius)
            for c, ln in pairs:  # off-palette colors: reported (or refused) before any work
                colorizer.check_palette(c, ln, name=str(c))
        except BaseException:  # a refusal, or Ctrl-C / SIGTERM during the checks
            claim.release()
            if created:  # leave nothing behind: not even the folder this call made
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            raise
        return cls(targets=list(shot), ref_colors=[c for c, _ in pairs],
                   ref_lines=[ln for _, ln in pairs], out_dir=out_dir, colorizer=colorizer,
                   quiet=quiet, selected=todo, in_range=len(chosen), resumed=resumed,
                   claim=claim, claimed=claimed, created_dir=created)

    @classmethod
    def from_cli(cls, args: argparse.Namespace) -> "ColorizeJob":
        return cls.create(args.targets, out=args.out, refs=args.ref, ref_lines=args.ref_line,
                          options=options_from_args(args), quiet=args.quiet, log=_stderr_log)

    def _chain_seed(self, index: int) -> Reference | None:
        """Frame ``index`` as colored by an earlier run (its JSON record), or None."""
        target = self.targets[index]
        record = self.out_dir / f"{target.stem}.json"
        try:
            rec = read_record(record) if record.is_file() else None
        except DaconError:
            rec = None
        if rec is None:
            self.colorizer.log(f"{target.name}: no earlier output to chain from; the chain "
                               "starts from the references")
            return None
        frame = self.colorizer.load_target(target)
        if rec["n_segments"] != frame.n_segments or \
                (rec["frame"]["height"], rec["frame"]["width"]) != frame.size:
            self.colorizer.log(f"{record}: does not match {target.name} (segments or size "
                               "differ); the chain starts from the references")
            return None
        colors = np.asarray(segment_array(rec, "color"), np.uint8).reshape(-1, 4)
        if self.palette is not None:  # an earlier run's fills: palette values here too
            from ..matching.palette import snap_colors

            colors = snap_colors(self.palette, colors)[0]
        return Reference(frame=frame, colors=colors, name=str(target))

    def run(self, on_frame: FrameCallback | None = None,
            should_stop: Callable[[], bool] | None = None) -> JobSummary:
        """Load references, colorize the selected targets, write outputs; summarise.

        ``on_frame(result, paths, k, n)`` runs after frame k of n is written;
        ``should_stop()`` is asked before each reference and adaptation step, before each
        network pass and before each frame's write (cancel: at most the frame being written finishes,
        finished frames stay, nothing partial is left). Temp files a killed run left of
        this job's frames are removed first, and those of a writer that died mid-frame
        when the run fails; the claim on the frames ends with the run.
        """
        try:
            summary = self._run(on_frame, should_stop)
        except BaseException:
            # every writer of this job has ended by now (threads and worker processes are
            # joined or killed), and the claim still holds the frames: what a writer that
            # died mid-frame left (a killed worker) goes with the failed job
            clear_stale_temps(self.out_dir, self.claimed)
            self._drop_empty_dir()
            raise
        finally:
            self.claim.release()
        if summary.frames_done == 0:
            self._drop_empty_dir()
        return summary

    def _drop_empty_dir(self) -> None:
        """The output folder this job created, removed again while it holds nothing."""
        if self.created_dir:
            self.claim.release()
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()

    def _run(self, on_frame: FrameCallback | None,
             should_stop: Callable[[], bool] | None) -> JobSummary:
        clear_stale_temps(self.out_dir, self.claimed)
        t_start = time.perf_counter()
        stop = should_stop or (lambda: False)
        todo = list(range(len(self.targets))) if self.selected is None else list(self.selected)
        cancelled = False
        written: list[str] = []
        kept: list[FrameResult] = []
        write_s = 0.0
        t0 = time.perf_counter()
        for color, line in zip(self.ref_colors, self.ref_lines):
            if stop():
                cancelled = True
                break
            self.colorizer.add_reference(color, line, name=str(color))
        ref_s = time.perf_counter() - t0
        if not cancelled and todo and self.colorizer.options.adapt_seconds:
            cancelled = self._adapt(stop)
        done, layout = 0, None
        if not cancelled and todo:
            sources = self.colorizer.reference_names()
            if self.mode != "keyframe":  # colored targets join the bank: name them too
                sources += [str(t) for t in self.targets]
            bar = tqdm(total=len(todo), unit="frame", desc="colorize",
                       disable=self.quiet or len(todo) < 2)
            try:
                layout = worker_layout(self.mode, self._device) if self.workers > 1 else None
                if layout == "frames":
                    done, write_s = self._run_frame_workers(todo, sources, written, bar,
                                                            on_frame, stop)
                elif layout == "stages":
                    done, write_s = self._run_stage_workers(todo, sources, written, bar,
                                                            on_frame, stop)
                else:
                    done, write_s = self._run_in_process(todo, sources, written, kept, bar,
                                                         on_frame, stop)
            finally:
                bar.close()
            cancelled = done < len(todo)
        if self.contact_sheet and kept and not cancelled:
            self._write_contact_sheet(kept)
        timings = {"references": ref_s, **self.colorizer.timings, "write": write_s}
        timings["features"] = timings.get("features", 0.0)
        return JobSummary(
            frames_total=len(self.targets),
            frames_selected=len(self.targets) if self.in_range is None else self.in_range,
            frames_done=done, frames_skipped=len(self.resumed), cancelled=cancelled,
            seconds=time.perf_counter() - t_start, timings=timings, outputs=written,
            model=self.colorizer.model_name,
            device=self._device,
            adaptation=None if self.colorizer.adaptation is None
            else self.colorizer.adaptation.record(),
            workers=self.workers, layout=layout)

    def _adapt(self, stop: Callable[[], bool]) -> bool:
        """Per-shot adaptation with a progress bar over its time budget; True if stopped."""
        budget = self.colorizer.options.adapt_seconds
        bar = tqdm(total=round(budget), unit="s", desc="learn the shot", disable=self.quiet,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total} s {postfix}")

        def progress(step: int, elapsed: float) -> None:
            bar.n = min(round(elapsed), bar.total)
            bar.set_postfix_str(f"step {step}")

        try:
            self.colorizer.adapt(progress=progress, should_stop=stop)
        finally:
            bar.close()
        return stop()

    def _run_in_process(self, todo: list[int], sources: list[str], written: list[str],
                        kept: list[FrameResult], bar, on_frame: FrameCallback | None,
                        stop: Callable[[], bool]) -> tuple[int, float]:
        """Colorize in this process: the next frames are read and segmented in a thread
        while the model runs, outputs are written in another; (frames written, write s)."""
        from ..outputs.write import write_frame_outputs

        done, write_s = 0, 0.0
        results = self.colorizer.colorize(self.targets, self.mode, batch_size=self.batch_size,
                                          only=todo, chain_seed=self._chain_seed,
                                          should_stop=stop)

        def write(result: FrameResult) -> tuple[list[Path], float]:
            t = time.perf_counter()
            paths = write_frame_outputs(
                self.out_dir, result.name, result.frame, result.assignment,
                formats=self.formats, model_name=self.colorizer.model_name,
                references=sources, overwrite=self.overwrite, palette=self.palette,
                matching=self.colorizer.matching_record(result),
                precision=self.colorizer.running_precision)
            return paths, time.perf_counter() - t

        # outputs are rendered and encoded in a thread while the next frame is computed;
        # at most WRITES_IN_FLIGHT frames wait there, so memory stays flat
        writer = ThreadPoolExecutor(1, thread_name_prefix="dacon-write")
        inflight: collections.deque = collections.deque()

        def settle() -> None:
            nonlocal done, write_s
            result, future = inflight.popleft()
            if future.cancelled():  # stopped before its write began
                return
            paths, seconds = future.result()
            write_s += seconds
            written.extend(str(p) for p in paths)
            done += 1
            if self.contact_sheet:
                kept.append(result)
            bar.update(1)
            self._note_empty(result)
            if on_frame is not None:
                on_frame(result, paths, done, len(todo))

        try:
            for result in results:
                if stop():  # computed after the stop: not written
                    break
                inflight.append((result, writer.submit(write, result)))
                while len(inflight) > WRITES_IN_FLIGHT:
                    settle()
                if stop():
                    for _, future in inflight:
                        future.cancel()  # writes not begun are dropped
                    break
            while inflight:
                settle()
        finally:
            results.close()
            writer.shutdown(wait=True)  # started writes finish (each is atomic)
        return done, write_s

    @property
    def _device(self) -> str:
        return str(getattr(self.colorizer.featurizer, "device", "cpu"))

    def _run_frame_workers(self, todo: list[int], sources: list[str], written: list[str],
                           bar, on_frame: FrameCallback | None,
                           stop: Callable[[], bool]) -> tuple[int, float]:
        """Keyframe frames over ``self.workers`` processes, each with its own model
        (:mod:`.workers`); (frames written, write seconds)."""
        from .workers import run_workers

        done, write_s = 0, 0.0
        c = self.colorizer
        settings = {"options": c.options, "out_dir": self.out_dir,
                    "graphs": c.bank_graphs(), "mirror_features": c.mirror_bank_features(),
                    "view_rows": c.bank_view_rows(), "adaptation": c.adaptation}
        for wf in run_workers(self.targets, todo, settings, c.bank(), sources, self.workers,
                              stop):
            done += 1
            written.extend(str(p) for p in wf.paths)
            for stage, seconds in wf.timings.items():
                if stage == "write":
                    write_s += seconds
                else:
                    c._time(stage, seconds)
            bar.update(1)
            self._note_empty(wf)
            if on_frame is not None:
                on_frame(wf, wf.paths, done, len(todo))  # type: ignore[arg-type]
        return done, write_s

    def _run_stage_workers(self, todo: list[int], sources: list[str], written: list[str],
                           bar, on_frame: FrameCallback | None,
                           stop: Callable[[], bool]) -> tuple[int, float]:
        """Colorize with ``self.workers`` stage worker processes feeding this one, which
        holds the model (:mod:`.stages`); (frames written, write seconds)."""
        from ..model.network import DaconNet
        from .stages import StageWorkers

        c = self.colorizer
        net = getattr(c.featurizer, "net", None)
        settings = {"options": c.options, "out_dir": self.out_dir, "formats": self.formats,
                    "references": sources, "overwrite": self.overwrite,
                    "palette": self.palette,
                    "spec": net.input_spec if isinstance(net, DaconNet) else None}
        done, write_s = 0, 0.0
        ahead = 2 * self.batch_size + 2 * self.workers  # a batch in the model, one loading
        with StageWorkers(self.workers, self.targets, settings, ahead) as stages, \
                _model_threads(self._device, self.workers):
            results = c.colorize(self.targets, self.mode, batch_size=self.batch_size,
                                 only=todo, chain_seed=self._chain_seed, should_stop=stop,
                                 feed=stages)

            def settle(wait: bool) -> None:
                nonlocal done, write_s
                for wf in stages.written(wait):
                    done += 1
                    written.extend(str(p) for p in wf.paths)
                    write_s += wf.timings["write"]
                    bar.update(1)
                    self._note_empty(wf)
                    if on_frame is not None:
                        on_frame(wf, wf.paths, done, len(todo))  # type: ignore[arg-type]

            try:
                for result in results:
                    if stop():  # computed after the stop: not written
                        break
                    stages.write(result.index, {
                        "name": result.name, "assignment": result.assignment,
                        "matching": c.matching_record(result), "model_name": c.model_name,
                        "precision": c.running_precision})
                    settle(False)
                    if stop():
                        break
                settle(True)  # writes already ordered finish (each is atomic)
            finally:
                results.close()
                for stage, seconds in stages.timings.items():
                    c._time(stage, seconds)
        return done, write_s

    def _note_empty(self, result: FrameResult | object) -> None:
        """A warning for a frame without an enclosed region (written as its line art)."""
        n = getattr(result, "n_segments", None)
        if n is None:
            n = result.frame.n_segments  # type: ignore[attr-defined]
        if n == 0:
            target = self.targets[result.index]  # type: ignore[attr-defined]
            self.colorizer.log(f"{target}: no enclosed region (all line or blank); its PNG "
                               "is the line art unchanged and its record has 0 segments")

    def _write_contact_sheet(self, results: list[FrameResult]) -> None:
        from ..outputs.contact_sheet import make_contact_sheet

        results = sorted(results, key=lambda r: r.index)
        refs = [r.extra.get("color_rgba", r.frame.line) for r in self.colorizer.references]
        rows, captions = [], []
        for k, r in enumerate(results):
            ref = refs[min(k, len(refs) - 1)]
            rows.append([r.frame.line, ref, r.image()])
            captions.append(r.name)
        make_contact_sheet(rows, captions, self.out_dir / "contact_sheet.png",
                           overwrite=self.overwrite)


def worker_layout(mode: str, device: str) -> str:
    """How ``--workers N`` splits a job: "frames" (keyframe mode with the model on the CPU:
    each worker colorizes whole frames with its own model, nothing waits on a shared
    step) or "stages" (a GPU, or frames that chain: workers read, segment, prepare and
    write for the one process that holds the model)."""
    return "frames" if mode == "keyframe" and device == "cpu" else "stages"


@contextlib.contextmanager
def _model_threads(device: str, workers: int):
    """While stage workers run beside a model on the CPU (``device``), the model process
    keeps the cores they leave (at least one): its OpenMP threads would otherwise wait on
    theirs."""
    import torch

    before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(max(1, before - workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def segment_files(inputs: Sequence[str], out_dir: Path, *, gap_radius: int = 0,
                  preview: bool = False, overwrite: bool = False, quiet: bool = False,
                  line_options: LineOptions | None = None) -> None:
    """Write ``<stem>.png`` label maps (and optional previews) for line-art files."""
    from ..fileio.images import read_image, write_png
    from ..fileio.labelmap import write_label_map
    from ..segmentation.segments import segment_line_art_details

    line_options = check_line_options(line_options or LineOptions())
    check_gap_radius(gap_radius)

    paths = collect_images(inputs)
    stems = [p.stem for p in paths]
    check_inputs_kept(paths, out_dir, [s + ".png" for s in stems]
                      + ([s + "_preview.png" for s in stems] if preview else []))
    out_dir = check_writable_dir(out_dir)
    _check_outputs_free(out_dir, stems, ["png"], overwrite)
    if preview:
        _check_outputs_free(out_dir, [s + "_preview" for s in stems], ["png"], overwrite)
    _preflight_images(paths, gap_radius)
    for p in tqdm(paths, unit="frame", desc="segment", disable=quiet or len(paths) < 2):
        labels, _, _, classes = segment_line_art_details(
            read_image(p), gap_radius=gap_radius, line_options=line_options, path=p,
            classes=preview)
        write_label_map(out_dir / f"{p.stem}.png", labels, overwrite=overwrite)
        if preview:
            write_png(out_dir / f"{p.stem}_preview.png", preview_image(labels, classes),
                      overwrite=overwrite)


PREVIEW_TRACE = (255, 0, 255, 255)
PREVIEW_SPECK = (255, 160, 0, 255)


def preview_image(labels: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """HxWx4: each segment in its own pseudo-random pastel color, lines black.

    classes (``segments.segment_line_art_details(..., classes=True)``): trace (color)
    line pixels are drawn magenta, specks merged into a neighbour orange, whatever
    segment they joined.
    """
    from ..segmentation.segments import PIXEL_SPECK, PIXEL_TRACE

    rng = np.random.default_rng(12345)
    lut = rng.integers(110, 236, size=(int(labels.max()) + 1, 4), dtype=np.uint8)
    lut[:, 3] = 255
    lut[0] = (0, 0, 0, 255)
    out = lut[labels]
    if classes is not None:
        out[classes == PIXEL_TRACE] = PREVIEW_TRACE
        out[classes == PIXEL_SPECK] = PREVIEW_SPECK
    return out
