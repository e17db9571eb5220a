"""Which frames of a Grease Pencil object are colorized, and the error every GP step raises.

:func:`plan_frames` picks the frames to render (every frame, or only where a drawing starts)
and which rendered frame each scene frame shows; :func:`frame_stem` names their files.
:class:`GPError` is the user-facing error of all ``gp_*`` modules; :data:`FILL_LAYER` is the
layer :mod:`gp_fills` writes (never a line layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import compat_gpencil as cg

FILL_LAYER = "DACoN fills"


class GPError(Exception):
    """The object cannot be colorized as asked; the message is meant for the user."""


@dataclass
class FramePlan:
    """Which frames to render, and which rendered frame each scene frame shows.

    ``shows[f]`` is the rendered frame whose colors scene frame ``f`` shows (itself, or
    with keys only the frame its drawing's key starts at: colors hold over the exposure).
    """

    rendered: list[int]
    shows: dict[int, int] = field(default_factory=dict)

    @property
    def frames(self) -> list[int]:
        """Every scene frame that shows a result, in order."""
        return sorted(self.shows)


def line_layers(obj: Any) -> list[Any]:
    """The object's visible layers that draw lines (not fills only), without our fills layer.

    A layer whose strokes are all fills without an outline (fill-only materials up to 5.0,
    ``hide_stroke`` strokes from 5.1; e.g. the artist's hand fills of the reference frame)
    does not decide where drawings start.
    """
    return [layer for layer in obj.data.layers
            if cg.layer_name(layer) != FILL_LAYER and not layer.hide
            and cg.layer_draws_lines(obj, layer)]


def plan_frames(scene: Any, obj: Any, keys_only: bool = False,
                frame_range: tuple[int, int] | None = None) -> FramePlan:
    """Frames of ``frame_range`` (default: the scene's) to render and to show results on.

    ``keys_only``: only frames where some line layer has a key (animation on twos or
    threes); each drawing's colors are held until the next key.
    """
    start, end = frame_range or (int(scene.frame_start), int(scene.frame_end))
    if end < start:
        raise GPError(f"empty frame range {start}-{end}")
    if not keys_only:
        frames = list(range(start, end + 1))
        return FramePlan(frames, {f: f for f in frames})
    keys = sorted({k for layer in line_layers(obj) for k in cg.frame_numbers(layer)})
    shows: dict[int, int] = {}
    for f in range(start, end + 1):
        held = [k for k in keys if k <= f]
        if held:
            shows[f] = max(held[-1], start)
    if not shows:
        raise GPError(f"'{obj.name}' has no drawing in frames {start}-{end}")
    return FramePlan(sorted(set(shows.values())), shows)


def frame_stem(frame: int) -> str:
    """File stem of a frame (``0007``; negative frames keep their sign)."""
    return f"{frame:04d}" if frame >= 0 else f"-{-frame:04d}"
