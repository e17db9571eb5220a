"""Frame ranges (``--frames 101-148``) and farm chunks of a shot.

A range spec is a comma-separated list of frame numbers and inclusive ``A-B`` ranges,
e.g. ``"101-148"``, ``"1-10,20,30-40"``. Frame numbers are the last run of digits in a
target's file name (see :func:`dacon_engine.files.frame_number`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import DaconError

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
