"""The one entry point: build a colorizer, add references, colorize frames.

    from dacon_engine.colorizer import Colorizer
    c = Colorizer(model="default")              # or "baseline", a name from `dacon models`, a path
    c.add_reference("ref/gt/0000.png", line="ref/line/0000.png")
    for result in c.colorize(["line/0001.png", "line/0002.png"], mode="keyframe"):
        rgba = result.image()                   # HxWx4 uint8, lines copied from the input
        result.assignment.confidence           # (n_segments,) in [0, 1]

The CLI, the engine service and the tests all go through this class.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from .errors import DaconError
from .fileio.files import frame_number
from .frames import Reference, SegmentedFrame
from .matching.bank import Assignment, Bank, SegmentFeaturizer, assign
from .matching.graphrefine import (
    FrameGraph,
    bank_graph,
    frame_graph,
    join_graphs,
    refine_similarity,
)
from .matching.mirror import mirrored_frame, prefer_mirror, prefer_views
from .model.featurizer import DaconFeaturizer
from .model.network import DaconNet
from .model.registry import build_featurizer
from .options import MODES, ColorizeOptions

if TYPE_CHECKING:
    from .training.adapt import AdaptResult

Target = str | os.PathLike | np.ndarray | SegmentedFrame


@dataclass
class FrameResult:
    """A colorized target frame."""

    frame: SegmentedFrame
    assignment: Assignment
    name: str
    index: int                 # position in the targets given to ``colorize``
    features: torch.Tensor     # (n_segments, D), reused when this frame joins a bank
    mirrored: bool = False     # matched against the mirrored references (``mirror``)
    zoomed: bool = False       # matched against the magnified references too (``--ref-zoom``)

    def image(self) -> np.ndarray:
        """HxWx4 uint8 RGBA: segments filled, line pixels copied unchanged from the input."""
        from .outputs.write import render_colors

        return render_colors(self.frame, self.assignment.colors)


class Colorizer:
    """Colorize line-art frames from any number of colored references.

    model: a name ("default", "baseline", see ``dacon models``), a checkpoint path, or a
    ready ``SegmentFeaturizer`` (None: ``options.model``). options: a
    :class:`~dacon_engine.options.ColorizeOptions`, or its flat names as keywords: gap
    closing, line-art rules, device, precision and DINOv2 weights, the palette (reference
    colors snap to it; off-palette ones are reported through ``log``, or refused with
    ``strict_palette``), graph refinement and mirroring (both on by default).
    keep_reference_images: False keeps of each reference only what matching needs (segment
    features, colors, name): a few hundred KB instead of its images, so any number of
    references fits in memory (``references[i].frame`` then holds no pixels).
    """

    def __init__(self, model: str | os.PathLike | SegmentFeaturizer | None = "default",
                 options: ColorizeOptions | None = None, *,
                 log: Callable[[str], None] | None = None, keep_reference_images: bool = True,
                 **flat_options: Any):
        """``options`` (or flat-named keyword options such as ``gap_radius=2``,
        ``line_mode="adaptive"``, ``mirror=False``: see :mod:`dacon_engine.options`) are
        validated here."""
        from .matching.palette import DEFAULT_TOLERANCE, check_palette_options

        opts = (options or ColorizeOptions()).replace(**flat_options).check()
        self.options = opts
        self.palette = check_palette_options(opts.palette.file, opts.palette.tolerance,
                                             opts.palette.strict)
        self.palette_tolerance = DEFAULT_TOLERANCE if opts.palette.tolerance is None \
            else float(opts.palette.tolerance)
        self._palette_log = log
        self._palette_reported: set[str] = set()  # each off-palette color is reported once
        self.featurizer = build_featurizer(opts.model if model is None else model,
                                           device=opts.device or "auto",
                                           dinov2_weights=opts.dinov2_weights)
        if opts.adapt_seconds and not isinstance(getattr(self.featurizer, "net", None), DaconNet):
            raise DaconError(None, f"--adapt: model "
                                   f"{self.featurizer.name!r} has no trained network to adapt")
        self.adaptation: AdaptResult | None = None  # what per-shot adaptation did
        if hasattr(self.featurizer, "precision"):  # refuse an emulated bf16 up front
            from .model.devices import resolve_precision

            resolve_precision(opts.precision, self.featurizer.device)
        self.references: list[Reference] = []
        self._ref_features: list[torch.Tensor] = []
        self._preset_bank: tuple[Bank, list[str]] | None = None
        self._ref_graphs: dict[int, FrameGraph] = {}  # bank source -> segment graph
        self._mirror_features: list[torch.Tensor] = []  # per reference, flipped left-right
        self._views: set[int] = set()  # reference indices that are magnified views
        self._preset_views: np.ndarray | None = None  # their rows in a preset bank
        self.keep_reference_images = keep_reference_images
        self.log = log or (lambda message: None)
        self.timings: dict[str, float] = {}  # seconds per stage, accumulated

    @property
    def gap_radius(self) -> int:
        return self.options.gap_radius

    @property
    def graph_refine(self) -> bool:
        return self.options.matching.graph_refine

    @property
    def mirror(self) -> bool:
        return self.options.matching.mirror

    @property
    def strict_palette(self) -> bool:
        return self.options.palette.strict

    def _time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def features(self, frames: Sequence[SegmentedFrame]) -> list[torch.Tensor]:
        """Segment features of ``frames``; on out-of-memory, degrade the model and retry."""
        from .model.memory import degrade, is_out_of_memory

        t0 = time.perf_counter()
        if hasattr(self.featurizer, "precision"):  # the featurizer may be shared (cached)
            self.featurizer.precision = self.options.precision
        while True:
            try:
                out = self.featurizer.segment_features(frames)
                break
            except Exception as e:  # noqa: BLE001 - only out-of-memory is handled here
                if not is_out_of_memory(e):
                    raise
                step = degrade(self.featurizer)
                names = ", ".join(Path(f.path).name if f.path is not None else
                                  "an in-memory frame" for f in frames)
                if step is None:
                    raise DaconError(None, f"out of memory on {names} even on the CPU "
                                           "(try smaller frames)") from None
                self.log(f"out of memory on {names}; retrying with {step}")
        self._time("features", time.perf_counter() - t0)
        return out

    @property
    def model_name(self) -> str:
        return self.featurizer.name

    @property
    def running_precision(self) -> str | None:
        """The network's precision now ("bf16" or "fp32"); None for a model without one."""
        if not hasattr(self.featurizer, "precision"):
            return None
        from .model.devices import running_precision

        return running_precision(self.options.precision, self.featurizer.device)

    # -- references -----------------------------------------------------------------
    def add_reference(self, color: str | os.PathLike | np.ndarray | Reference,
                      line: str | os.PathLike | np.ndarray | None = None,
                      name: str | None = None) -> Reference:
        """Add a colored frame (and optionally its line art) to the reference bank."""
        from .segmentation.references import load_reference, reference_from_arrays

        if isinstance(color, Reference):
            ref = color
        elif isinstance(color, np.ndarray):
            ref = reference_from_arrays(color, line, gap_radius=self.gap_radius,
                                        line_options=self.options.line,
                                        name=name or f"reference{len(self.references)}")
        else:
            ref = load_reference(color, line, gap_radius=self.gap_radius, name=name,
                                 line_options=self.options.line)
        if self.palette is not None:
            ref = self._snap(ref)
        views = self._zoomed_views(ref)
        self._add_to_bank(ref)
        for view in views:
            self._views.add(len(self.references))
            self._add_to_bank(view)
        return self.references[-1 - len(views)]

    def _matcher(self, base: Bank) -> "_Matcher":
        """The matcher of ``base``. With magnified references it decides per frame: the
        whole bank where they fit the frame clearly better, else exactly what matching
        without them gives (the references as drawn, their graphs and mirrors)."""
        def graph(bank: Bank) -> FrameGraph | None:
            return bank_graph(self._ref_graphs, bank.ref_index, bank.ref_segment) \
                if self.graph_refine else None

        full = _Matcher(self.featurizer, base, graph(base), self.mirror_bank_features())
        rows = self._view_rows(base)
        if rows is None:
            return full
        keep = torch.from_numpy(~rows)
        drawn = Bank(base.features[keep], base.colors[~rows], base.ref_index[~rows],
                     base.ref_segment[~rows])
        mirror = None if full.base_mirror is None else full.base_mirror[keep]
        return _Matcher(self.featurizer, drawn, graph(drawn), mirror,
                        (full, torch.from_numpy(rows)))

    def bank_view_rows(self) -> np.ndarray | None:
        """Which rows of ``bank()`` come from magnified references (None: no such rows)."""
        return self._view_rows(self._bank())

    def _view_rows(self, base: Bank) -> np.ndarray | None:
        if self._preset_bank is not None:
            rows = self._preset_views
        elif self._views:
            rows = np.isin(base.ref_index, np.fromiter(self._views, np.int64))
        else:
            rows = None
        return rows if rows is not None and rows.any() else None

    def _add_to_bank(self, ref: Reference) -> None:
        """A reference's features (and segment graph, mirrored features) into the bank;
        while per-shot adaptation is pending, its features wait for the adapted model."""
        later = self._adapt_pending()
        self._ref_features.append(None if later else self.features([ref.frame])[0])
        if self.graph_refine:
            self._ref_graphs[len(self.references)] = frame_graph(ref.frame.labels,
                                                                 ref.frame.n_segments)
        if self.mirror:
            self._mirror_features.append(None if later else
                                         self.features([mirrored_frame(ref.frame)])[0])
        if not self.keep_reference_images and not later:
            ref = _without_images(ref)
        self.references.append(ref)

    # -- per-shot adaptation ----------------------------------------------------------
    def _adapt_pending(self) -> bool:
        return bool(self.options.adapt_seconds) and self.adaptation is None \
            and self._preset_bank is None

    def adapt(self, *, progress: Callable[[int, float], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> AdaptResult | None:
        """Adapt the model to the references added so far (``adapt_seconds``, see
        :mod:`dacon_engine.training.adapt`), once; the first colorize does it when not
        called. Returns what adaptation did (None when it is off)."""
        if not self._adapt_pending():
            return self.adaptation
        from .training.adapt import adapt_to_shot

        drawn = [r for i, r in enumerate(self.references) if i not in self._views]
        t0 = time.perf_counter()
        result = adapt_to_shot(self.featurizer.net, drawn,  # type: ignore[attr-defined]
                               self.options.adapt_seconds,
                               device=self.featurizer.device,  # type: ignore[attr-defined]
                               log=self.log, progress=progress, should_stop=should_stop)
        self._time("adapt", time.perf_counter() - t0)
        self.use_adaptation(result)
        return result

    def use_adaptation(self, result: AdaptResult) -> None:
        """Match with adapted weights from ``result`` (when it says to use them): from
        ``adapt()``, or handed to a worker process by its parent."""
        self.adaptation = result
        if result.used and result.state_dict is not None:
            base = self.featurizer
            net = DaconNet(dataclasses.replace(base.net.config),  # type: ignore[attr-defined]
                           base.net.dino)  # type: ignore[attr-defined]
            net.load_heads(result.state_dict)
            self.featurizer = DaconFeaturizer(
                net, base.device, base.batch_size,  # type: ignore[attr-defined]
                name=f"{base.name} + shot adaptation {result.key[:8]}")
        for i, ref in enumerate(self.references):
            if self._ref_features[i] is None:
                self._ref_features[i] = self.features([ref.frame])[0]
                if self.mirror:
                    self._mirror_features[i] = self.features([mirrored_frame(ref.frame)])[0]
                if not self.keep_reference_images:
                    self.references[i] = _without_images(ref)

    def _zoomed_views(self, ref: Reference) -> list[Reference]:
        """``ref`` magnified by each of ``reference_zooms``: windows tiling its drawing,
        scaled up with the lines redrawn at its pen width, so a close-up target finds
        segments of its own scale (named ``<ref>@<zoom>x<k>``)."""
        zooms = self.options.matching.reference_zooms
        if not zooms or ref.frame.n_segments == 0:
            return []
        from .segmentation.references import reference_from_arrays
        from .segmentation.zoom import fill_lines, magnify, pen_width, zoomed_windows

        line = ref.frame.line
        filled = fill_lines(ref.frame.labels, ref.colors)
        width = pen_width(line)
        views = []
        for zoom in zooms:
            for k, box in enumerate(zoomed_windows(line, zoom)):
                big_line, big_color = magnify(line, filled, box, width)
                view = reference_from_arrays(big_color, big_line, gap_radius=self.gap_radius,
                                             line_options=self.options.line,
                                             name=f"{ref.name}@{zoom:g}x{k}")
                if view.frame.n_segments:
                    views.append(view)
        return views

    def _snap(self, ref: Reference) -> Reference:
        from .matching.palette import report_off_palette, snap_reference

        ref, off = snap_reference(ref, self.palette, tolerance=self.palette_tolerance)
        new = [r for r in off if r.message(self.palette_tolerance) not in self._palette_reported]
        report_off_palette(new, self.palette, self.palette_tolerance, self.strict_palette,
                           self._palette_log, ref.color_path)
        self._palette_reported.update(r.message(self.palette_tolerance) for r in new)
        return ref

    def check_palette(self, color: str | os.PathLike, line: str | os.PathLike | None = None,
                      name: str | None = None) -> None:
        """Snap a reference without adding it: its off-palette colors are reported (or, with
        ``strict_palette``, refused) now, before any work; nothing is kept."""
        from .segmentation.references import load_reference

        if self.palette is not None:
            self._snap(load_reference(color, line, gap_radius=self.gap_radius, name=name,
                                      line_options=self.options.line))

    def use_bank(self, bank: Bank, names: Sequence[str],
                 graphs: Mapping[int, FrameGraph] | None = None,
                 mirror_features: torch.Tensor | None = None,
                 view_rows: np.ndarray | None = None) -> None:
        """Match against a bank built elsewhere (e.g. by the parent of worker processes);
        ``graphs``: its sources' segment graphs (``bank_graphs()``) for graph refinement;
        ``mirror_features``: its rows' mirrored features (``mirror_bank_features()``);
        ``view_rows``: its rows from magnified references (``bank_view_rows()``)."""
        self._preset_bank = (bank, list(names))
        self._ref_graphs = dict(graphs or {})
        self._mirror_features = [] if mirror_features is None else [mirror_features]
        self._preset_views = view_rows

    def matching_record(self, result: FrameResult) -> dict:
        """How ``result`` was matched, for its JSON record's ``matching`` entry."""
        record = {"graph_refine": self.graph_refine, "mirror": self.mirror,
                  "mirrored": result.mirrored}
        if self.adaptation is not None:
            record["adaptation"] = self.adaptation.record()
        if self.options.matching.reference_zooms:
            record["reference_zooms"] = list(self.options.matching.reference_zooms)
            record["zoomed"] = result.zoomed
        return record

    def mirror_bank_features(self) -> torch.Tensor | None:
        """(M, D) features of the bank's rows with each reference flipped left-right, or
        None (mirroring off, or a preset bank without them)."""
        if not self.mirror or not self._mirror_features:
            return None
        self.adapt()
        return torch.cat([f.float() for f in self._mirror_features], 0)

    def bank_graphs(self) -> dict[int, FrameGraph]:
        """Segment graph of each bank source (empty without graph refinement)."""
        return dict(self._ref_graphs)

    def bank(self) -> Bank:
        """The bank of every reference added so far (or the one given to ``use_bank``)."""
        return self._bank()

    def reference_names(self) -> list[str]:
        if self._preset_bank is not None:
            return list(self._preset_bank[1])
        return [r.name for r in self.references]

    def _bank(self) -> Bank:
        if self._preset_bank is not None:
            return self._preset_bank[0]
        if not self.references:
            raise DaconError(None, "no references: add at least one colored reference frame")
        self.adapt()
        return Bank.build(self.references, self._ref_features)

    # -- targets --------------------------------------------------------------------
    def load_target(self, target: Target, name: str | None = None) -> SegmentedFrame:
        if isinstance(target, SegmentedFrame):
            return target
        t0 = time.perf_counter()
        frame = segment_target(target, self.options)
        self._time("segment", time.perf_counter() - t0)
        return frame

    def colorize(self, targets: Sequence[Target], mode: str = "keyframe", *,
                 batch_size: int = 4, only: Collection[int] | None = None,
                 chain_seed: Callable[[int], Reference | None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 feed: FrameFeed | None = None) -> Iterator[FrameResult]:
        """Colorize ``targets``, yielding one FrameResult per frame as soon as it is done.

        keyframe:    every frame is matched against the references only.
        consecutive: frames in the given order; each frame's result joins the bank for the
                     next one (a chain: references + the previous colored frame).
        nearest:     for clips whose colored frame is in the middle or at the end: frames are
                     colored outward from the nearest reference frame number, each using the
                     neighbour one step closer to that reference (references + that frame).
        only:        indices of the targets to colorize (default: all); the others only
                     define the order and the chain (a chunk of a longer shot).
        chain_seed:  for a chained frame whose neighbour is not colorized in this call,
                     ``chain_seed(neighbour_index)`` may return that neighbour already
                     colored (e.g. read back from an earlier run's outputs); None starts the
                     chain from the references.
        should_stop: asked before each network pass; when true, no further frame comes.
        feed:        frames segmented elsewhere (a job's stage workers, ``jobs.stages``):
                     told the order, then asked for each frame instead of loading it.
        A target without any enclosed region (all line, e.g. a fade to black) comes back
        with 0 segments (no network pass); as a chain neighbour it passes on the colors
        its own neighbour gave it.
        Results come in processing order (frame order except in ``nearest`` mode).
        Stopping the iteration between frames is safe (cancel).
        """
        if mode not in MODES:
            raise DaconError(None, f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
        targets = list(targets)
        if batch_size < 1:
            raise DaconError(None, f"batch size {batch_size}: must be 1 or more")
        base = self._bank()
        full = processing_order(targets, self.reference_names(), mode)
        wanted = None if only is None else set(only)
        order = [(i, nb) for i, nb in full if wanted is None or i in wanted]
        chain = _Chain(self, full, order, chain_seed, len(self.reference_names()))
        match = self._matcher(base)
        chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
        if feed is not None:
            feed.start([i for i, _ in order])
        load = partial(self._load_chunk, targets, feed=feed)
        # read + segment the next chunk in a thread while this one runs through the model
        loader = ThreadPoolExecutor(1, thread_name_prefix="dacon-load")
        pending = loader.submit(load, chunks[0]) if chunks else None
        try:
            for k, chunk in enumerate(chunks):
                assert pending is not None
                frames, frame_graphs = pending.result()
                if should_stop is not None and should_stop():
                    return
                pending = loader.submit(load, chunks[k + 1]) if k + 1 < len(chunks) else None
                yield from self._colorize_chunk(targets, chunk, frames, frame_graphs, chain,
                                                match)
        finally:
            if pending is not None:
                pending.cancel()
            loader.shutdown(wait=True)  # no thread outlives the call (cancel, errors)

    def _load_chunk(self, targets: Sequence[Target], chunk: Sequence[tuple[int, int | None]],
                    feed: FrameFeed | None = None
                    ) -> tuple[list[SegmentedFrame], list[FrameGraph | None]]:
        """Read and segment a chunk's frames (and build their segment graphs)."""
        if feed is not None:
            fed = [feed.load(i) for i, _ in chunk]
            return [f for f, _ in fed], [g for _, g in fed]
        frames = [self.load_target(targets[i]) for i, _ in chunk]
        if not self.graph_refine:
            return frames, [None] * len(frames)
        t0 = time.perf_counter()
        frame_graphs = [frame_graph(f.labels, f.n_segments) for f in frames]
        self._time("graph", time.perf_counter() - t0)
        return frames, frame_graphs

    def _colorize_chunk(self, targets: Sequence[Target], chunk: Sequence[tuple[int, int | None]],
                        frames: Sequence[SegmentedFrame],
                        frame_graphs: Sequence[FrameGraph | None], chain: "_Chain",
                        match: "_Matcher") -> Iterator[FrameResult]:
        """One network pass over a chunk's drawn frames, then each frame matched in turn."""
        drawn = [f for f in frames if f.n_segments > 0]  # empty frames: no network
        feats = iter(self.features(drawn) if drawn else [])
        for (i, neighbour), frame, graph in zip(chunk, frames, frame_graphs):
            t0 = time.perf_counter()
            prev, prev_graph = (None, None) if neighbour is None else chain.bank_of(neighbour)
            name = target_name(targets[i], i)
            if frame.n_segments == 0:
                if prev is not None:
                    chain.keep(i, lambda: (prev, prev_graph))  # skipped as a seed
                yield FrameResult(frame, _empty_assignment(), name, i, None, False)
                continue
            feat = next(feats)
            a, mirrored, zoomed = match(feat, graph, prev, prev_graph)
            chain.keep(i, lambda: (_frame_bank(feat, a.colors, chain.n_refs + i), graph))
            self._time("match", time.perf_counter() - t0)
            yield FrameResult(frame, a, name, i, feat, mirrored, zoomed)

    def source_name(self, ref_index: int, targets: Sequence[Target]) -> str:
        """Name of a bank source: a reference, or (index >= n refs) a colored target frame."""
        n = len(self.references)
        if ref_index < n:
            return self.references[ref_index].name
        return target_name(targets[ref_index - n], ref_index - n)


class FrameFeed(Protocol):
    """Frames segmented (and made ready for the network) elsewhere, e.g. by a job's stage
    worker processes: told the order ``colorize`` needs them in, then asked for each."""

    def start(self, order: Sequence[int]) -> None:
        """The target indices ``colorize`` will ask for, in that order."""

    def load(self, index: int) -> tuple[SegmentedFrame, FrameGraph | None]:
        """Target ``index`` segmented (its segment graph with graph refinement, else None);
        waits until it is ready."""
        ...


def segment_target(target: str | os.PathLike | np.ndarray, options: ColorizeOptions
                   ) -> SegmentedFrame:
    """A target's segments, as ``options`` say (gap closing, line-art rules)."""
    from .segmentation.segments import segment_frame

    return segment_frame(target, gap_radius=options.gap_radius, allow_empty=True,
                         line_options=options.line)


class _Chain:
    """The chained modes' colored frames, each kept until the frames that follow it from
    its colors have taken them (memory stays flat in clip length)."""

    def __init__(self, colorizer: Colorizer, full: Sequence[tuple[int, int | None]],
                 order: Sequence[tuple[int, int | None]],
                 chain_seed: Callable[[int], Reference | None] | None, n_refs: int):
        self.colorizer = colorizer
        self.neighbour_of = dict(full)
        self.chain_seed = chain_seed
        self.n_refs = n_refs
        self.done: dict[int, tuple[Bank, FrameGraph | None]] = {}  # colored frames, graphs
        self.uses = Counter(nb for _, nb in order if nb is not None)  # to drop banks once used

    def keep(self, index: int, bank: Callable[[], tuple[Bank, FrameGraph | None]]) -> None:
        """Keep frame ``index``'s colors (made by ``bank()``) if a later frame chains from it."""
        if self.uses[index] > 0:
            self.done[index] = bank()

    def bank_of(self, neighbour: int) -> tuple[Bank | None, FrameGraph | None]:
        """The colors ``neighbour`` passes on (None: the chain starts from the references)."""
        if neighbour not in self.done and self.chain_seed is not None:
            seeded = self._seed(neighbour)
            if seeded is not None:
                self.done[neighbour] = seeded
        bank, graph = self.done.get(neighbour, (None, None))
        self.uses[neighbour] -= 1
        if self.uses[neighbour] <= 0:
            self.done.pop(neighbour, None)
        return bank, graph

    def _seed(self, neighbour: int) -> tuple[Bank, FrameGraph | None] | None:
        """A neighbour colored outside this call (``chain_seed``); an empty frame passes on
        its own neighbour's colors."""
        c = self.colorizer
        j: int | None = neighbour
        while j is not None and self.chain_seed is not None:
            seed = self.chain_seed(j)
            if seed is None:
                return None
            if seed.frame.n_segments > 0:
                return (_frame_bank(c.features([seed.frame])[0], seed.colors, self.n_refs + j),
                        frame_graph(seed.frame.labels, seed.frame.n_segments)
                        if c.graph_refine else None)
            j = self.neighbour_of.get(j)
        return None


class _Matcher:
    """A frame's segments against the references' bank (plus a chained neighbour's colors):
    similarity, the mirrored references where they fit better, graph refinement."""

    def __init__(self, featurizer: SegmentFeaturizer, base: Bank,
                 base_graph: FrameGraph | None, base_mirror: torch.Tensor | None,
                 views: tuple["_Matcher", torch.Tensor] | None = None):
        self.featurizer = featurizer
        self.base, self.base_graph, self.base_mirror = base, base_graph, base_mirror
        self.views = views  # (the matcher with magnified references, their rows in its bank)

    def __call__(self, feat: torch.Tensor, graph: FrameGraph | None, prev: Bank | None,
                 prev_graph: FrameGraph | None) -> tuple[Assignment, bool, bool]:
        """(assignment, matched mirrored, matched with the magnified references)."""
        if self.views is not None:
            full, rows = self.views
            if prefer_views(self.featurizer.similarity(feat, full.base.features), rows):
                a, mirrored, _ = full(feat, graph, prev, prev_graph)
                return a, mirrored, True
        base = self.base
        bank = base if prev is None else base.extend(prev)
        sim = self.featurizer.similarity(feat, bank.features)
        mirrored = False
        if self.base_mirror is not None:
            flip = self.featurizer.similarity(feat, self.base_mirror)
            mirrored = prefer_mirror(sim[:, :len(base)], flip)
            if mirrored:
                sim = torch.cat([flip.to(sim), sim[:, len(base):]], 1)
        scores = None
        if graph is not None:
            scores = refine_similarity(
                sim, graph, self.base_graph if prev is None else
                join_graphs(self.base_graph, prev_graph, len(prev)))
        return assign(sim, bank, scores), mirrored, False


def _without_images(ref: Reference) -> Reference:
    """``ref`` keeping only what matching needs: colors, name, segment count (no pixels)."""
    empty = SegmentedFrame(np.zeros((0, 0, 4), np.uint8), np.zeros((0, 0), np.int32),
                           ref.frame.n_segments, ref.frame.path, dict(ref.frame.line_art))
    return Reference(frame=empty, colors=ref.colors, name=ref.name, color_path=ref.color_path)


def _empty_assignment() -> Assignment:
    """The assignment of a frame with no segment."""
    return Assignment(np.zeros((0, 4), np.uint8), np.zeros(0, np.float32),
                      np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


def _frame_bank(features: torch.Tensor, colors: np.ndarray, source: int) -> Bank:
    """A colored frame as a bank: every segment, tagged with bank source ``source``."""
    n = int(features.shape[0])
    return Bank(features, np.asarray(colors, np.uint8), np.full(n, source, np.int64),
                np.arange(1, n + 1, dtype=np.int64))


def target_name(target: Target, index: int) -> str:
    """The stem used for a target's outputs."""
    if isinstance(target, SegmentedFrame) and target.path is not None:
        return Path(target.path).stem
    if isinstance(target, (str, os.PathLike)):
        return Path(target).stem
    return f"frame{index:04d}"


def processing_order(targets: Sequence[Target], reference_names: Iterable[str],
                     mode: str) -> list[tuple[int, int | None]]:
    """(target index, neighbour target index whose colors join the bank, or None)."""
    n = len(targets)
    if mode == "keyframe":
        return [(i, None) for i in range(n)]
    if mode == "consecutive":
        return [(i, i - 1 if i else None) for i in range(n)]
    # nearest: propagate outward from the reference frame numbers
    tnum = [frame_number(target_name(t, i)) for i, t in enumerate(targets)]
    rnum = [frame_number(r) for r in reference_names]
    rnum = [r for r in rnum if r is not None]
    if not rnum or any(t is None for t in tnum):
        return processing_order(targets, [], "consecutive")
    refs = np.array(rnum)
    pos = sorted(range(n), key=lambda i: tnum[i])  # frame order
    dist = [int(np.abs(refs - tnum[i]).min()) for i in range(n)]
    anchor = [int(refs[np.abs(refs - tnum[i]).argmin()]) for i in range(n)]
    rank = {i: k for k, i in enumerate(pos)}
    order = []
    for i in sorted(range(n), key=lambda i: (dist[i], tnum[i])):
        step = -1 if tnum[i] > anchor[i] else 1  # towards the reference
        k = rank[i] + step
        neighbour = None
        if 0 <= k < n and dist[pos[k]] < dist[i] and anchor[pos[k]] == anchor[i]:
            neighbour = pos[k]
        order.append((i, neighbour))
    return order
