"""Frame ranges (``--frames 101-148``) and farm chunks of a shot.

A range spec is a comma-separated list of frame numbers and inclusive ``A-B`` ranges,
e.g. ``"101-148"``, ``"1-10,20,30-40"``. Frame numbers are the last run of digits in a
target's file name (see :func:`dacon_engine.fileio.files.frame_number`).

Farm plans (:func:`plan_shot`) are made against the shot's real frame numbers: a spec's
ranges must not overlap, each must hold a frame of the shot, and no chunk is empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DaconError

_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_frame_ranges(spec: str, option: str = "--frames") -> list[tuple[int, int]]:
    """``"101-148,200"`` -> ``[(101, 148), (200, 200)]``; DaconError naming ``option``."""
    text = str(spec)
    parts = text.split(",")
    out: list[tuple[int, int]] = []
    for part in parts:
        m = _PART.match(part)
        if not m:
            raise DaconError(None, f"{option} {text!r}: expected frame numbers and ranges "
                                   "like 101-148 or 1-10,20,30-40")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise DaconError(None, f"{option} {text!r}: range {a}-{b} ends before it starts")
        out.append((a, b))
    return out


def in_ranges(n: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(a <= n <= b for a, b in ranges)


def plan_chunks(first: int, last: int, chunk_size: int) -> list[tuple[int, int]]:
    """Split the inclusive frame range ``first..last`` into chunks of ``chunk_size`` frames."""
    if chunk_size < 1:
        raise DaconError(None, f"chunk size {chunk_size}: must be 1 or more")
    if last < first:
        raise DaconError(None, f"frame range {first}-{last} ends before it starts")
    return [(a, min(a + chunk_size - 1, last)) for a in range(first, last + 1, chunk_size)]


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def check_disjoint(ranges: Sequence[tuple[int, int]], spec: str,
                   option: str = "--frames") -> None:
    """Refuse a spec whose ranges share a frame (``1-10,5-16`` would color 5-10 twice)."""
    ordered = sorted(ranges)
    for (a, b), (c, d) in zip(ordered, ordered[1:]):
        if c <= b:
            both = format_ranges([(c, min(b, d))])
            raise DaconError(None, f"{option} {spec!r}: ranges {format_ranges([(a, b)])} and "
                                   f"{format_ranges([(c, d)])} overlap (frames {both} twice)")


@dataclass(frozen=True)
class Chunk:
    """Farm chunk: shot frames ``first..last`` (real frame numbers), the chunks it must
    wait for (``after``, indices into the plan) and the farm task that runs it (1-based)."""

    first: int
    last: int
    count: int
    after: tuple[int, ...]
    task: int

    @property
    def spec(self) -> str:
        return format_ranges([(self.first, self.last)])


def plan_shot(numbers: Sequence[int], spec: str | None, chunk_size: int,
              order: Sequence[tuple[int, int | None]] = (), tasks: int = 1,
              option: str = "--frames") -> list[Chunk]:
    """Chunks of a shot whose targets have frame numbers ``numbers`` (index-aligned).

    ``spec`` (None or "": the whole shot) must not overlap and every range must hold a
    frame of the shot; chunks hold up to ``chunk_size`` of the shot's frame numbers, never
    none. ``order`` is the shot's processing order, ``(target index, neighbour index whose
    colors it chains from)`` (:func:`colorizer.processing_order`): a chunk waits for the
    chunks its frames chain from, so running chunks in that order reproduces one
    uninterrupted run. Chunks joined by waiting go to one task; separate groups are spread
    over ``tasks`` tasks, the least loaded first.
    """
    if chunk_size < 1:
        raise DaconError(None, f"chunk size {chunk_size}: must be 1 or more")
    if tasks < 1:
        raise DaconError(None, f"tasks {tasks}: must be 1 or more")
    if not numbers:
        raise DaconError(None, "the shot has no frames")
    present = sorted(set(numbers))
    shot = f"the shot's frames are {format_ranges(_runs(present))}"
    ranges = [(present[0], present[-1])] if not spec else parse_frame_ranges(spec, option)
    if spec:
        check_disjoint(ranges, spec, option)
    bounds: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        inside = [n for n in present if a <= n <= b]
        if not inside:
            raise DaconError(None, f"{option} {spec!r}: range {format_ranges([(a, b)])} holds "
                                   f"no frame of the shot ({shot})")
        bounds += [(inside[s], inside[min(s + chunk_size, len(inside)) - 1])
                   for s in range(0, len(inside), chunk_size)]
    where = {i: k for i, n in enumerate(numbers)
             for k, (a, b) in enumerate(bounds) if a <= n <= b}
    after: list[set[int]] = [set() for _ in bounds]
    for i, nb in order:
        if nb is not None and i in where and nb in where and where[i] != where[nb]:
            after[where[i]].add(where[nb])
    _topological(after)
    group = _groups(after)
    load = [0] * tasks
    task_of: dict[int, int] = {}
    counts = [sum(1 for n in numbers if a <= n <= b) for a, b in bounds]
    for g in sorted(set(group), key=group.index):  # groups in frame order
        t = min(range(tasks), key=lambda t: (load[t], t))
        task_of[g] = t + 1
        load[t] += sum(c for k, c in enumerate(counts) if group[k] == g)
    return [Chunk(a, b, counts[k], tuple(sorted(after[k])), task_of[group[k]])
            for k, (a, b) in enumerate(bounds)]


def task_order(chunks: Sequence[Chunk], task: int) -> list[int]:
    """Indices of ``task``'s chunks in an order where each comes after those it waits for."""
    return [k for k in _topological([set(c.after) for c in chunks]) if chunks[k].task == task]


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted distinct numbers as runs of consecutive ones: [1,2,3,7] -> [(1,3),(7,7)]."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _topological(after: Sequence[set[int]]) -> list[int]:
    """Kahn's order (lowest index first among the ready ones); DaconError on a cycle."""
    waiting = [set(a) for a in after]
    done: list[int] = []
    ready = [k for k, w in enumerate(waiting) if not w]
    while ready:
        k = min(ready)
        ready.remove(k)
        done.append(k)
        for j, w in enumerate(waiting):
            if k in w:
                w.discard(k)
                if not w:
                    ready.append(j)
    if len(done) < len(after):
        raise DaconError(None, "chunk dependencies form a cycle")
    return done


def _groups(after: Sequence[set[int]]) -> list[int]:
    """Connected groups of chunks joined by waiting: each chunk's group id (its lowest index)."""
    parent = list(range(len(after)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for k, deps in enumerate(after):
        for d in deps:
            a, b = root(k), root(d)
            parent[max(a, b)] = min(a, b)
    return [root(k) for k in range(len(after))]
