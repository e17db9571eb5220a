"""Colorize options: the one object the CLI, the service protocol, the client, jobs, worker
processes and :class:`~dacon_engine.colorizer.Colorizer` share (standard library only).

Options are nested by what they steer (:class:`LineOptions`, :class:`PaletteOptions`,
:class:`MatchOptions`); each also has a flat name, the one the Python keyword arguments and
the service protocol use (``line_mode``, ``palette_tolerance``, ``mirror`` ...), listed in
:data:`FLAT_NAMES`. :meth:`ColorizeOptions.check` is where every value is validated, with
the CLI's spelling of the option in each message::

    opts = ColorizeOptions.from_flat(mode="nearest", line_mode="adaptive").check()
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from .colors import ink_colors
from .errors import DaconError

MODES = ("keyframe", "consecutive", "nearest")
"""How frames find their references: all references, the previous frame, the nearest key."""
LINE_MODES = ("auto", "fixed", "adaptive", "learned")
"""auto (fixed on clean art, else adaptive), fixed (luminance <= 128), adaptive (rules),
learned (a small trained line extractor; opt-in)."""
FORMATS = ("png", "exr", "json")
DEVICES = ("auto", "cpu", "cuda")
"""What ``--device`` takes (``cuda`` may be ``cuda:N`` through the API)."""
PRECISIONS = ("auto", "fp32", "bf16")
"""What ``--precision`` takes: auto = bf16 where the device runs it natively, else fp32."""


@dataclass(frozen=True)
class LineOptions:
    """Which pixels are line: the mode and the colored lines (names, R,G,B or #rrggbb)."""

    mode: str = "auto"
    trace_colors: tuple[str, ...] | None = None  # shading-boundary lines; None = red, blue, green
    line_colors: tuple[str, ...] | None = None   # main lines drawn in color; stay line like black


@dataclass(frozen=True)
class PaletteOptions:
    """Snapping reference colors to a palette file (.gpl or JSON), or a loaded Palette."""

    file: Any = None                 # path, a matching.palette.Palette, or None
    tolerance: float | None = None   # CIEDE2000 delta-E; None = 8
    strict: bool = False             # refuse off-palette reference colors instead of snapping


@dataclass(frozen=True)
class MatchOptions:
    """Matching beyond each segment on its own."""

    graph_refine: bool = True  # rescore matches by the segment graph
    mirror: bool = True        # also match against the references flipped left-right
    reference_zooms: tuple[float, ...] = ()  # also see each reference magnified this much


@dataclass(frozen=True)
class ColorizeOptions:
    """Everything a colorize job can be asked, besides its targets, references and folder."""

    mode: str = "keyframe"
    formats: tuple[str, ...] = ("png", "json")
    gap_radius: int = 0
    frames: str | None = None          # "101-148" or "1-10,20"
    overwrite: bool = False
    resume: bool = False
    batch_size: int = 4
    workers: int = 1
    contact_sheet: bool = False
    model: str = "default"             # name, 'baseline' or a checkpoint path
    device: str | None = None          # None: "auto" (the service's default device there)
    precision: str = "auto"            # network precision: auto, fp32 or bf16 (PRECISIONS)
    dinov2_weights: str | None = None
    adapt_seconds: float = 0.0         # per-shot adaptation budget (s); 0 = off
    line: LineOptions = field(default_factory=LineOptions)
    palette: PaletteOptions = field(default_factory=PaletteOptions)
    matching: MatchOptions = field(default_factory=MatchOptions)

    @classmethod
    def from_flat(cls, **values: Any) -> "ColorizeOptions":
        """Options from flat names (:data:`FLAT_NAMES`); the rest keep their defaults."""
        return cls().replace(**values)

    def replace(self, **values: Any) -> "ColorizeOptions":
        """A copy with these flat-named options changed; an unknown name is a TypeError."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            path = FLAT_NAMES.get(name)
            if path is None:
                raise TypeError(f"unknown colorize option {name!r}")
            if len(path) == 1:
                top[path[0]] = value
            else:
                nested.setdefault(path[0], {})[path[1]] = value
        for group, changes in nested.items():
            top[group] = dataclasses.replace(getattr(self, group), **changes)
        return dataclasses.replace(self, **top)

    def flat(self) -> dict[str, Any]:
        """Every option by its flat name (lists where the value is a sequence)."""
        out: dict[str, Any] = {}
        for name, path in FLAT_NAMES.items():
            value = getattr(self, path[0]) if len(path) == 1 else \
                getattr(getattr(self, path[0]), path[1])
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def check(self) -> "ColorizeOptions":
        """Validate every option up front; the options normalized (formats lower-case with
        the JSON record first, colors as tuples). Raises DaconError naming the option as
        the CLI spells it, the value and what is allowed. Devices, palette files and frame
        ranges are checked where they are opened (they need the machine and the shot)."""
        wanted = tuple(str(f).lower() for f in self.formats)
        if not wanted:  # a JSON record alone is asked for as ["json"], never by omission
            raise DaconError(None, "--format: no output format given (use png, exr or "
                                   "png,exr)")
        if self.mode not in MODES:
            raise DaconError(None, f"--mode {self.mode}: unknown mode (choose from "
                                   f"{', '.join(MODES)})")
        formats = tuple(dict.fromkeys(("json",) + wanted))
        if any(f not in FORMATS for f in formats):
            raise DaconError(None, f"--format {','.join(formats)}: unknown format "
                                   "(use png, exr or png,exr)")
        check_gap_radius(self.gap_radius)
        if self.precision not in PRECISIONS:
            raise DaconError(None, f"--precision {self.precision}: unknown precision (choose "
                                   f"from {', '.join(PRECISIONS)})")
        _whole(self.batch_size, "--batch-size", 1)
        if self.overwrite and self.resume:
            raise DaconError(None, "--resume and --overwrite together: --resume keeps complete "
                                   "outputs and --overwrite replaces them; pick one")
        line = check_line_options(self.line)
        _check_palette_options(self.palette)
        for option, value in (("graph_refine", self.matching.graph_refine),
                              ("mirror", self.matching.mirror)):
            if not isinstance(value, bool):
                raise DaconError(None, f"{option} {value!r}: must be true or false")
        zooms = check_reference_zooms(self.matching.reference_zooms)
        adapt = check_adapt_seconds(self.adapt_seconds)
        _whole(self.workers, "--workers", 1)
        if self.workers > 1 and self.contact_sheet:
            raise DaconError(None, f"--workers {self.workers}: the contact sheet needs "
                                   "--workers 1")
        return dataclasses.replace(
            self, formats=formats, line=line, gap_radius=int(self.gap_radius),
            adapt_seconds=adapt,
            matching=dataclasses.replace(self.matching, reference_zooms=zooms))


FLAT_NAMES: dict[str, tuple[str, ...]] = {
    **{f.name: (f.name,) for f in dataclasses.fields(ColorizeOptions)
       if f.name not in ("line", "palette", "matching")},
    "line_mode": ("line", "mode"), "trace_colors": ("line", "trace_colors"),
    "line_colors": ("line", "line_colors"),
    "palette": ("palette", "file"), "palette_tolerance": ("palette", "tolerance"),
    "strict_palette": ("palette", "strict"),
    "graph_refine": ("matching", "graph_refine"), "mirror": ("matching", "mirror"),
    "reference_zooms": ("matching", "reference_zooms"),
}
"""Flat option name (Python keyword, protocol field) -> attribute path in ColorizeOptions."""

_NULLABLE = {"device", "frames", "dinov2_weights", "trace_colors", "line_colors", "palette",
             "palette_tolerance"}
_JSON_TYPES = {bool: (bool,), int: (int,), float: (float, int), str: (str,),
               tuple: (list,)}


def protocol_fields() -> dict[str, tuple[tuple[type, ...], Any]]:
    """The colorize options as service protocol fields: {name: (JSON types, default)}."""
    defaults = ColorizeOptions().flat()
    kinds = {"adapt_seconds": float, "device": str, "palette_tolerance": float,
             "trace_colors": tuple, "line_colors": tuple,
             "palette": str, "frames": str, "dinov2_weights": str, "formats": tuple,
             "reference_zooms": tuple}
    out: dict[str, tuple[tuple[type, ...], Any]] = {}
    for name, default in defaults.items():
        kind = kinds.get(name, type(default))
        types = _JSON_TYPES[kind]
        if name in _NULLABLE:
            types = types + (type(None),)
        out[name] = (types, default)
    return out


def check_gap_radius(gap_radius: object, size: tuple[int, int] | None = None,
                     path: str | os.PathLike | None = None) -> int:
    """A gap radius is a whole number >= 0 and, for a frame of ``size`` (h, w), at most
    half its longer side: a larger one would close gaps wider than the frame itself."""
    if isinstance(gap_radius, bool) or not _is_int(gap_radius) or gap_radius < 0:  # type: ignore[operator]
        raise DaconError(None, f"--gap-radius {gap_radius}: must be a whole number >= 0")
    radius = int(gap_radius)  # type: ignore[call-overload]
    if size is not None:
        limit = max(size) // 2
        if radius > limit:
            raise DaconError(path, f"--gap-radius {radius}: too large for this "
                                   f"{size[1]}x{size[0]} frame (at most {limit})")
    return radius


def check_line_options(line: LineOptions) -> LineOptions:
    """The line options validated (colors as tuples of the strings given)."""
    if line.mode not in LINE_MODES:
        raise DaconError(None, f"--line-mode {line.mode}: unknown mode (choose from "
                               f"{', '.join(LINE_MODES)})")
    given = {}
    for opt, key in (("--trace-color", "trace_colors"), ("--line-color", "line_colors")):
        vals = getattr(line, key)
        vals = [vals] if isinstance(vals, str) else vals
        for v in vals or []:
            try:
                ink_colors([v], ())
            except (ValueError, TypeError) as e:
                raise DaconError(None, f"{opt} {v}: {e}") from None
        given[key] = None if vals is None else tuple(vals)
    return dataclasses.replace(line, **given)


ZOOM_RANGE = (1.25, 8.0)


def check_reference_zooms(zooms: object) -> tuple[float, ...]:
    """``--ref-zoom``: magnifications from 1.25 to 8 (a number or a list), each given once;
    returned sorted."""
    values = list(zooms) if isinstance(zooms, (list, tuple)) else [zooms]
    lo, hi = ZOOM_RANGE
    numbers = [z for z in values if isinstance(z, (int, float)) and not isinstance(z, bool)]
    if len(numbers) != len(values) or not all(lo <= z <= hi for z in numbers) or \
            len(set(numbers)) != len(numbers):
        shown = ",".join(f"{z:g}" if z in numbers else str(z) for z in values)
        raise DaconError(None, f"--ref-zoom {shown}: give distinct magnifications from "
                               f"{lo:g} to {hi:g}, e.g. 2 or 2,3")
    return tuple(sorted(float(z) for z in numbers))


ADAPT_MAX_SECONDS = 3600.0
DEFAULT_ADAPT_SECONDS = 60.0
"""``--adapt`` without ``--adapt-seconds``: about a minute on a CPU (a GPU stops earlier,
at the step limit)."""


def check_adapt_seconds(value: object) -> float:
    """``--adapt-seconds``: per-shot adaptation budget in seconds, 0 (off) to an hour."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        0 <= value <= ADAPT_MAX_SECONDS  # NaN fails both comparisons
    if not ok:
        raise DaconError(None, f"--adapt-seconds {value}: give the adaptation time budget in "
                               f"seconds, from 0 (off) to {ADAPT_MAX_SECONDS:g}")
    return float(value)  # type: ignore[arg-type]


def check_tolerance(value: object) -> float:
    """``--palette-tolerance``: a finite number >= 0 (CIEDE2000 units)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not (v >= 0 and math.isfinite(v)):
        raise DaconError(None, f"--palette-tolerance {value}: must be a number >= 0 "
                               "(delta-E CIEDE2000)")
    return v


def _check_palette_options(palette: PaletteOptions) -> None:
    if palette.file is None:
        if palette.strict:
            raise DaconError(None, "--strict-palette needs --palette FILE")
        if palette.tolerance is not None:
            raise DaconError(None, f"--palette-tolerance {palette.tolerance} needs "
                                   "--palette FILE")
    elif palette.tolerance is not None:
        check_tolerance(palette.tolerance)


def _is_int(value: object) -> bool:
    """An int, or a numpy integer (checked by its type name: no numpy import here)."""
    return isinstance(value, int) or type(value).__module__ == "numpy" and \
        "int" in type(value).__name__


def _whole(value: object, option: str, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise DaconError(None, f"{option} {value}: must be a whole number >= {least}")
