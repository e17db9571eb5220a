"""Per-shot adaptation: the model learns the shot's character from its own references for
a bounded time, and the result is kept only where it beats the base model.

Every shot arrives with its character's references: the best training data there is for
that character. :func:`adapt_network` makes pairs from them alone -- a reference as the
source, and as the target the same drawing warped (rotation, scale, mirror, bending),
seen closer (a close-up cut by the frame border, lines at the drawing's pen width), with
new shapes drawn in or exported anti-aliased / as JPEG / scanned, or another reference of
the same character. The network's trunk stays frozen: each generated frame runs through
it once (at its own size: the shot's frames share the references' size, and features
depend on it) and its segment-pooled maps are kept; the part after pooling then trains
on them with the color cross-entropy. Fixed held-out pairs made the same way (other
seeds, plus every pair of two different references), matched as frames are matched,
score the base and the adapted weights; the adapted ones are kept only when they beat
the base there by a margin and still match other characters' new poses as well as the
base does: a fixed set of generic keyframe pairs (generated characters in other poses)
is replayed in every training batch and scores the guard. Results are cached per shot
(keyed by the references, the base weights and the budget), so a re-run reuses them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import DaconError
from ..fileio.files import atomic_path
from ..frames import Reference, SegmentedFrame
from ..matching.bank import cosine_similarity01
from ..matching.graphrefine import FrameGraph, frame_graph, refine_similarity
from ..matching.mirror import mirrored_frame, prefer_mirror
from ..model.devices import bf16_is_fast
from ..model.network import DaconNet
from ..segmentation.segments import line_mask
from ..segmentation.zoom import fill_lines, pen_width
from .data import TrainFrame, TrainPair, frame_from_images

VERSION = 5
"""Bumped whenever pairs, losses or schedule change: older cache entries are then unused."""
WORK_SIZE = 4096
"""Longest side (px) of the frames adaptation works on (larger references are scaled down)."""
MAX_PAIRS = 96
"""Generated training pairs at most, however long the budget (a GPU makes them in seconds)."""
MIN_PAIRS = 4
HEAD_STEPS = 300
HEAD_LR = 3e-4
HEAD_BATCH = 8
VAL_PAIRS = 12
MIN_GAIN = 0.02
"""Held-out accuracy the adapted weights must gain to be kept (2 points)."""
CLOSEUP_ZOOM = (1.3, 3.2)
GENERIC_SIZE = 512
"""Side (px) of the generic pairs (generated characters, keyframe regime)."""
GENERIC_SEED = 1_500_000_000
"""First seed of the generic pairs: far from the benchmark suites (2e9) and the test seeds."""
GENERIC_REPLAY = 8
"""Generic pairs replayed in training: :data:`REPLAY_PER_BATCH` of each batch."""
REPLAY_PER_BATCH = 2
GENERIC_GUARD = 8
"""Generic pairs held out: the adapted weights may lose at most :data:`GENERIC_SLACK` there."""
GENERIC_SLACK = 0.01
CACHE_FORMAT = "dacon-engine-adapted"


@dataclass
class AdaptResult:
    """What adaptation did; ``state_dict`` holds the adapted trainable weights when used."""

    used: bool                # the adapted weights are used (else the base model)
    reason: str               # why (one line, for logs and the record)
    steps: int = 0            # head steps of the weights kept
    seconds: float = 0.0      # adaptation time in this run (0 when read from the cache)
    val_base: float | None = None     # segment accuracy on the held-out pairs
    val_adapted: float | None = None
    val_pairs: int = 0
    generic_base: float | None = None     # segment accuracy on the generic guard pairs
    generic_adapted: float | None = None
    pairs: int = 0            # generated training pairs
    cached: bool = False
    key: str = ""
    state_dict: dict[str, torch.Tensor] | None = None

    def record(self) -> dict:
        """JSON-ready summary (no weights)."""
        out = {k: v for k, v in asdict(self).items() if k != "state_dict"}
        for k in ("val_base", "val_adapted", "generic_base", "generic_adapted", "seconds"):
            if out[k] is not None:
                out[k] = round(float(out[k]), 4)
        return out


def cache_dir() -> Path:
    """Where adapted weights are kept: ``$DACON_CACHE_DIR``, else ``$XDG_CACHE_HOME/dacon``,
    else ``~/.cache/dacon`` (each with an ``adapted/`` folder)."""
    root = os.environ.get("DACON_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "dacon")
    return Path(root) / "adapted"


def shot_key(net: DaconNet, references: Sequence[Reference], seconds: float,
             seed: int) -> str:
    """Hash of what adaptation depends on: the base weights and configuration, each
    reference's line art, segments and colors, the budget, the seed and :data:`VERSION`."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": VERSION, "seconds": float(seconds), "seed": int(seed),
                         "config": net.config.to_dict()}, sort_keys=True).encode())
    for name, t in sorted(net.head_state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    for ref in references:
        for arr in (ref.frame.line, ref.frame.labels, ref.colors):
            a = np.ascontiguousarray(arr)
            h.update(str(a.shape).encode() + a.dtype.str.encode())
            h.update(a.tobytes())
    return h.hexdigest()


def shrink(line: np.ndarray, gt: np.ndarray, size: int = WORK_SIZE
           ) -> tuple[np.ndarray, np.ndarray]:
    """Line art (black ink kept closed: any pixel with a fifth of ink coverage is line) and
    its color frame scaled down so the longer side is at most ``size``."""
    h, w = line.shape[:2]
    if max(h, w) <= size:
        return line, gt
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    cover = cv2.resize(line_mask(line).astype(np.float32), (nw, nh),
                       interpolation=cv2.INTER_AREA)
    out = np.full((nh, nw, 4), 255, np.uint8)
    out[..., 3] = 0
    out[cover > 0.2] = (0, 0, 0, 255)
    small = cv2.resize(np.ascontiguousarray(gt), (nw, nh), interpolation=cv2.INTER_NEAREST)
    return out, small


@dataclass
class _Drawing:
    line: np.ndarray   # work-size line art
    gt: np.ndarray     # work-size colors (line pixels: nearest segment's color)
    frame: TrainFrame  # segmented
    width: int         # pen width (px)


def _drawings(references: Sequence[Reference]) -> list[_Drawing]:
    out = []
    for ref in references:
        if ref.frame.n_segments == 0:
            continue
        line, gt = shrink(ref.frame.line, fill_lines(ref.frame.labels, ref.colors))
        frame = frame_from_images(line, gt)
        if frame.n_segments:
            out.append(_Drawing(line, gt, frame, pen_width(line)))
    return out


def _target(d: _Drawing, rng: np.random.Generator, kind: str) -> TrainFrame:
    """One departure of drawing ``d``: ``warp`` (mild or large), ``closeup``, with new shapes
    or a degraded export added at random."""
    from ..synth.linedegrade import random_export
    from ..synth.newshapes import insert_shapes
    from ..synth.warps import WARP_REGIMES, closeup, warp_line_art, warp_maps

    h, w = d.line.shape[:2]
    if kind == "closeup":
        line, gt = closeup(d.line, d.gt, rng, zoom=CLOSEUP_ZOOM, width=d.width)
    else:
        regime = WARP_REGIMES["mild" if rng.random() < 0.5 else "large"]
        line, gt = warp_line_art(d.line, d.gt, maps=warp_maps((h, w), rng, regime))
    if rng.random() < 0.2:
        line, gt, _ = insert_shapes(line, gt, rng, n=int(rng.integers(1, 3)))
    if rng.random() < 0.15:
        line = random_export(line, rng)
    return frame_from_images(line, gt)


def _pair(drawings: Sequence[_Drawing], rng: np.random.Generator) -> TrainPair:
    i = int(rng.integers(len(drawings)))
    kind = "closeup" if rng.random() < 0.5 else "warp"
    target = _target(drawings[i], rng, kind)
    src = i
    if len(drawings) > 1 and rng.random() < 0.3:  # another reference of the character
        src = int((i + rng.integers(1, len(drawings))) % len(drawings))
    return TrainPair(drawings[src].frame, target)


def validation_pairs(drawings: Sequence[_Drawing], seed: int,
                     n: int = VAL_PAIRS) -> list[TrainPair]:
    """Held-out pairs: every ordered pair of two different references (real drawings of
    the character), then generated ones (alternately close-ups and warps) up to ``n``."""
    pairs = [TrainPair(a.frame, b.frame) for a in drawings for b in drawings
             if a is not b][:n]
    rng = np.random.default_rng(10**9 + seed)
    k = 0
    while len(pairs) < n:
        d = drawings[k % len(drawings)]
        pairs.append(TrainPair(d.frame, _target(d, rng, ("closeup", "warp")[k % 2])))
        k += 1
    return pairs


@functools.lru_cache(maxsize=2)
def generic_pairs(size: int = GENERIC_SIZE, n_replay: int = GENERIC_REPLAY,
                  n_guard: int = GENERIC_GUARD) -> tuple[tuple[TrainPair, ...],
                                                         tuple[TrainPair, ...]]:
    """(replay, guard): fixed keyframe pairs of generated characters in new poses (seeds
    from :data:`GENERIC_SEED`), the same in every run; made once per process."""
    from .data import synth_pair

    pairs = tuple(synth_pair(GENERIC_SEED + k, size, "keyframe")
                  for k in range(n_replay + n_guard))
    return pairs[:n_replay], pairs[n_replay:]


@dataclass
class _Pooled:
    """One frame through the frozen trunk: its pooled maps, empty segments and color ids;
    for held-out frames also its segment graph (and a source its mirrored twin), so they
    are scored the way frames are matched."""

    pooled: dict[str, torch.Tensor]
    empty: torch.Tensor
    ids: torch.Tensor
    colors: np.ndarray
    graph: FrameGraph | None = None
    mirror: _Pooled | None = None


Pairs = Sequence[tuple[_Pooled, _Pooled]]


def _pool_for_matching(net: DaconNet, frame: TrainFrame, device: torch.device, amp: bool,
                       mirror: bool) -> _Pooled:
    """:func:`_pool` with the segment graph, and (``mirror``) the frame flipped left-right."""
    out = _pool(net, frame, device, amp)
    out.graph = frame_graph(frame.labels, frame.n_segments)
    if mirror:
        flipped = mirrored_frame(SegmentedFrame(frame.line, frame.labels, frame.n_segments))
        out.mirror = _pool(net, TrainFrame(flipped.line, flipped.labels, frame.colors),
                           device, amp)
    return out


@torch.no_grad()
def _pool(net: DaconNet, frame: TrainFrame, device: torch.device, amp: bool) -> _Pooled:
    from ..model.featurizer import net_inputs
    from ..model.pooling import plan_pooling

    inputs = net_inputs(net, frame.line, device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        maps = net.feature_maps(inputs, late_head=True)
    plan = plan_pooling(frame.labels, frame.n_segments, net.config.pool_cap)
    return _Pooled(net.pooled_maps(maps, 0, plan), (plan.counts == 0).to(device),
                   torch.from_numpy(frame.color_ids()).to(device), frame.colors)


def _features(net: DaconNet, frames: Sequence[_Pooled]) -> dict[int, torch.Tensor]:
    """Segment features of each distinct frame (by identity), through the head in one call."""
    distinct = list({id(f): f for f in frames}.values())
    cat = {k: torch.cat([f.pooled[k] for f in distinct]) for k in distinct[0].pooled}
    out = net.head_features(cat, torch.cat([f.empty for f in distinct]))
    sizes = [len(f.empty) for f in distinct]
    return {id(f): part for f, part in zip(distinct, out.split(sizes))}


@torch.no_grad()
def held_out_accuracy(net: DaconNet, pairs: Pairs) -> float:
    """Segment accuracy (exact color of the match) over the targets of ``pairs``, matched as
    the colorizer matches a frame: similarity in [0, 1], the mirrored source where it fits
    the whole frame better, graph refinement where the frames have graphs."""
    frames = [f for pair in pairs for f in pair] + [src.mirror for src, _ in pairs
                                                    if src.mirror is not None]
    feats = _features(net, frames)
    right = total = 0
    for src, tgt in pairs:
        sim = cosine_similarity01(feats[id(tgt)], feats[id(src)])
        if src.mirror is not None:
            flip = cosine_similarity01(feats[id(tgt)], feats[id(src.mirror)])
            if prefer_mirror(sim, flip):
                sim = flip  # segment k of the flipped frame is segment k as drawn
        if tgt.graph is not None and src.graph is not None:
            sim = refine_similarity(sim, tgt.graph, src.graph)
        pred = src.colors[sim.argmax(1).cpu().numpy()]
        right += int(np.all(pred == tgt.colors, axis=1).sum())
        total += len(tgt.colors)
    return right / max(total, 1)


_GENERIC_POOLED: weakref.WeakKeyDictionary[DaconNet, dict[tuple, tuple[Pairs, Pairs]]] = \
    weakref.WeakKeyDictionary()


def _generic_pooled(net: DaconNet, work: DaconNet, device: torch.device, amp: bool,
                    give_up: Callable[[], bool]) -> tuple[Pairs, Pairs] | None:
    """The replay and guard pairs (:func:`generic_pairs`) through ``work``'s frozen trunk
    (a copy of base ``net``'s), guard sources with their mirrored twins and graphs: made
    once per base network, device and precision in a process (the service adapts shot
    after shot with one base model; base weights are never changed in place).
    ``give_up()`` is asked before each pair: when true, None (nothing kept)."""
    key = (str(device), amp, GENERIC_SIZE, GENERIC_REPLAY, GENERIC_GUARD)
    per_net = _GENERIC_POOLED.setdefault(net, {})
    if key not in per_net:
        replay_pairs, guard_pairs = generic_pairs(GENERIC_SIZE, GENERIC_REPLAY, GENERIC_GUARD)
        made: list[tuple[_Pooled, _Pooled]] = []
        for k, p in enumerate(replay_pairs + guard_pairs):
            if give_up():
                return None
            if k < len(replay_pairs):  # trained on: pooled maps only
                made.append((_pool(work, p.source, device, amp),
                             _pool(work, p.target, device, amp)))
            else:  # scored as frames are matched
                made.append((_pool_for_matching(work, p.source, device, amp, mirror=True),
                             _pool_for_matching(work, p.target, device, amp, mirror=False)))
        per_net[key] = (made[:len(replay_pairs)], made[len(replay_pairs):])
    return per_net[key]


def adapt_network(net: DaconNet, references: Sequence[Reference], seconds: float, *,
                  device: torch.device, seed: int = 0,
                  progress: Callable[[int, float], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> AdaptResult:
    """Adapt a copy of ``net`` to ``references`` within ``seconds``; ``net`` is unchanged.

    The trunk (U-Net, DINOv2) stays frozen: each generated frame runs through it once and
    its pooled maps are kept, then the part after pooling (:meth:`DaconNet.head_parameters`)
    trains for :data:`HEAD_STEPS` steps on them, which takes little beside the frames. Most
    of the budget therefore goes into frames (at most :data:`MAX_PAIRS`); see
    :func:`_train_heads` for when the result is kept. ``progress(pairs_made, elapsed)``
    after each generated pair; ``should_stop()`` before each (then the base is kept)."""
    stop = should_stop or (lambda: False)
    t0 = time.monotonic()
    drawings = _drawings(references)
    if not drawings:
        return AdaptResult(False, "no reference with enclosed regions to learn from")
    work = DaconNet(dataclasses.replace(net.config), net.dino).to(device).eval()
    work.load_heads({k: v.detach().clone() for k, v in net.head_state_dict().items()})
    params = work.head_parameters()
    if not params:
        return AdaptResult(False, "the model has no trainable part after pooling")
    amp = bf16_is_fast(device)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sources = [_pool_for_matching(work, d.frame, device, amp, mirror=True) for d in drawings]
    by_frame = {id(d.frame): k for k, d in enumerate(drawings)}

    def pooled_pair(pair: TrainPair) -> tuple[_Pooled, _Pooled]:
        k = by_frame.get(id(pair.target))
        target = sources[k] if k is not None else \
            _pool_for_matching(work, pair.target, device, amp, mirror=False)
        return sources[by_frame[id(pair.source)]], target

    val = [pooled_pair(p) for p in validation_pairs(drawings, seed)]
    # frames until the budget, less a fixed share left for the head steps and scoring
    reserve = max(2.0, 0.15 * seconds)

    def spent() -> bool:
        return time.monotonic() - t0 >= seconds - reserve

    def cancelled() -> AdaptResult:
        return AdaptResult(False, "cancelled", 0, time.monotonic() - t0, None, None,
                           len(val), pairs=len(train))

    train: list[tuple[_Pooled, _Pooled]] = []
    generic = _generic_pooled(net, work, device, amp, give_up=lambda: stop() or spent())
    if generic is None and stop():
        return cancelled()
    replay, guard = generic or ((), ())
    while len(train) < MAX_PAIRS and not spent():
        if stop():
            return cancelled()
        pair = _pair(drawings, rng)
        train.append((sources[by_frame[id(pair.source)]], _pool(work, pair.target, device, amp)))
        if progress is not None:
            progress(len(train), time.monotonic() - t0)
    if len(train) < MIN_PAIRS:
        return AdaptResult(False, f"{seconds:g} s made only {len(train)} training pairs here "
                                  f"(at least {MIN_PAIRS} needed)", 0,
                           time.monotonic() - t0, None, None, len(val), pairs=len(train))
    return _train_heads(work, params, train, val, rng, t0, replay=replay, guard=guard)


def _train_heads(work: DaconNet, params: list[torch.nn.Parameter], train: Pairs, val: Pairs,
                 rng: np.random.Generator, t0: float, *, replay: Pairs = (),
                 guard: Pairs = ()) -> AdaptResult:
    """:data:`HEAD_STEPS` head steps on pooled pairs (each batch: shot pairs and
    :data:`REPLAY_PER_BATCH` ``replay`` pairs), then one score of each held-out set: the
    adapted weights are kept only when they beat the base by :data:`MIN_GAIN` on the shot's
    pairs ``val`` and lose at most :data:`GENERIC_SLACK` on the generic ``guard`` pairs (one
    score, not the best of many: picking the best of several checkpoints on a few pairs
    kept noise)."""
    from .losses import color_ce_loss, cosine

    base_acc = held_out_accuracy(work, val)
    base_gen = held_out_accuracy(work, guard) if guard else None
    opt = torch.optim.Adam(params, lr=HEAD_LR)
    n_replay = min(REPLAY_PER_BATCH, len(replay))
    n_shot = min(HEAD_BATCH - n_replay, len(train))
    for _ in range(HEAD_STEPS):
        batch = [train[i] for i in rng.choice(len(train), size=n_shot, replace=False)]
        if n_replay:
            batch += [replay[i] for i in rng.choice(len(replay), size=n_replay, replace=False)]
        feats = _features(work, [f for pair in batch for f in pair])
        loss = torch.stack([color_ce_loss(cosine(feats[id(tgt)], feats[id(src)]), src.ids,
                                          tgt.ids) for src, tgt in batch])
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()
    acc = held_out_accuracy(work, val)
    gen = held_out_accuracy(work, guard) if guard else None
    took = time.monotonic() - t0
    scores = dict(steps=HEAD_STEPS, seconds=took, val_base=base_acc, val_adapted=acc,
                  val_pairs=len(val), generic_base=base_gen, generic_adapted=gen,
                  pairs=len(train))
    if acc < base_acc + MIN_GAIN:
        return AdaptResult(False, f"not better than the base model on the held-out pairs "
                                  f"({base_acc:.3f} -> {acc:.3f}, {MIN_GAIN:g} needed)",
                           **scores)
    if base_gen is not None and gen is not None and gen < base_gen - GENERIC_SLACK:
        return AdaptResult(False, f"held-out pairs {base_acc:.3f} -> {acc:.3f}, but worse on "
                                  f"other characters' new poses ({base_gen:.3f} -> {gen:.3f})",
                           **scores)
    state = {k: v.detach().float().cpu().clone() for k, v in work.head_state_dict().items()}
    return AdaptResult(True, f"adapted: held-out accuracy {base_acc:.3f} -> {acc:.3f}",
                       state_dict=state, **scores)


def read_cached(path: Path) -> AdaptResult | None:
    """A cache entry, or None when it is missing or unreadable (then adaptation runs again)."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if obj.get("format") != CACHE_FORMAT or obj.get("version") != VERSION:
            return None
        result = AdaptResult(**obj["result"])
        result.state_dict = obj.get("state_dict")
        if result.used and not result.state_dict:
            return None
    except Exception:  # noqa: BLE001 - a damaged entry is recomputed, never trusted
        return None
    result.cached, result.seconds = True, 0.0
    return result


def write_cached(path: Path, result: AdaptResult) -> None:
    """Keep ``result`` (and its weights) for the next run; atomically."""
    record = {k: v for k, v in asdict(result).items() if k not in ("state_dict", "cached")}
    obj = {"format": CACHE_FORMAT, "version": VERSION, "result": record,
           "state_dict": result.state_dict}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def adapt_to_shot(net: DaconNet, references: Sequence[Reference], seconds: float, *,
                  device: torch.device, seed: int = 0,
                  log: Callable[[str], None] | None = None,
                  progress: Callable[[int, float], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> AdaptResult:
    """:func:`adapt_network` through the per-shot cache (see :func:`cache_dir`)."""
    say = log or (lambda message: None)
    if not seconds > 0:
        raise DaconError(None, f"--adapt-seconds {seconds}: give the time budget in seconds "
                               "(> 0)")
    key = shot_key(net, references, seconds, seed)
    path = cache_dir() / f"{key}.pt"
    hit = read_cached(path)
    if hit is not None:
        hit.key = key
        say(f"shot adaptation: reusing {path} ({hit.reason})")
        return hit
    result = adapt_network(net, references, seconds, device=device, seed=seed,
                           progress=progress, should_stop=should_stop)
    result.key = key
    say(f"shot adaptation: {result.reason} ({result.steps} steps, {result.seconds:.1f} s)")
    if result.reason != "cancelled":
        try:
            write_cached(path, result)
        except OSError as e:
            say(f"shot adaptation: cannot keep the result in {path.parent} "
                f"({e.strerror or e}); set DACON_CACHE_DIR to a writable folder")
    return result
