"""Palettes: named flat colors, snapping reference colors to them, reading and writing them.

A palette is a list of (name, #rrggbb) entries with distinct names and distinct values,
read from a GIMP palette (``.gpl``, as Krita, Inkscape and Aseprite write it) or a JSON
object ``{"name": "#rrggbb", ...}``.

With a palette, every reference segment's color is replaced by the nearest entry in CIE
Lab (delta-E CIEDE2000, scikit-image), so every fill the engine writes is an exact palette
value (alpha 255). Transparent segments (alpha 0, e.g. a see-through background) stay
transparent and belong to no entry. A reference color farther than the tolerance from
every entry is reported (frame, color, pixel count, nearest entry); ``strict`` refuses it.

Segment names (:func:`segment_names`) are what the JSON sidecar and the Cryptomatte layer
use: the palette entry's name, or without a palette the color itself, ``#rrggbb``
(``#rrggbbaa`` when partly transparent).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..colors import hex_color
from ..errors import DaconError
from ..frames import Reference
from ..options import check_tolerance

PathLike = str | os.PathLike

# CIEDE2000 units. About 2 is the smallest difference people notice side by side. The
# color a reference segment takes is its most frequent pixel value, and in a JPEG or noisy
# scan that drifts by up to about 5 from the painted color; two entries of a studio palette
# (skin / skin shadow) are usually 8 to 15 apart. 8 reports a genuinely missing color while
# letting compression noise through.
DEFAULT_TOLERANCE = 8.0
PALETTE_SUFFIXES = (".gpl", ".json")

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


def color_hex(rgb: Sequence[int]) -> str:
    """(r, g, b[, a]) -> ``#rrggbb`` (the alpha is not part of it)."""
    return hex_color(list(rgb)[:3])


@dataclass(frozen=True)
class Palette:
    """Named colors: ``names[i]`` has the value ``colors[i]`` ((n, 3) uint8)."""

    names: tuple[str, ...]
    colors: np.ndarray
    source: str | None = None

    def __len__(self) -> int:
        return len(self.names)

    def entries(self) -> dict[str, str]:
        """name -> ``#rrggbb``, in palette order."""
        return {n: color_hex(c) for n, c in zip(self.names, self.colors.tolist())}

    def index(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None

    def lookup(self, rgb: np.ndarray) -> np.ndarray:
        """(m, 3) uint8 -> (m,) entry index of each exact value, -1 where none has it."""
        rgb = np.asarray(rgb, np.int64).reshape(-1, 3)
        keys = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        pal = self.colors.astype(np.int64)
        pkeys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        order = np.argsort(pkeys)
        pos = np.clip(np.searchsorted(pkeys[order], keys), 0, len(pkeys) - 1)
        found = pkeys[order][pos] == keys
        return np.where(found, order[pos], -1)

    def nearest(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(m, 3) uint8 -> (entry index, CIEDE2000 delta-E to it), both (m,)."""
        from skimage.color import deltaE_ciede2000, rgb2lab

        rgb = np.asarray(rgb, np.uint8).reshape(-1, 3)
        if rgb.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        lab = rgb2lab(rgb.astype(np.float64)[None] / 255.0)[0]
        plab = rgb2lab(self.colors.astype(np.float64)[None] / 255.0)[0]
        de = deltaE_ciede2000(lab[:, None, :], plab[None, :, :])  # (m, n) at once
        idx = np.argmin(de, axis=1)
        return idx.astype(np.int64), de[np.arange(len(idx)), idx]


def _palette_error(path: PathLike, line: int | None, problem: str) -> DaconError:
    return DaconError(path, f"line {line}: {problem}" if line else problem)


def _build(entries: list[tuple[str, tuple[int, int, int], int | None]],
           path: PathLike) -> Palette:
    if not entries:
        raise DaconError(path, "palette has no colors")
    seen_names: dict[str, int | None] = {}
    seen_values: dict[tuple[int, int, int], tuple[str, int | None]] = {}
    for name, rgb, line in entries:
        if name in seen_names:
            where = f" (line {seen_names[name]})" if seen_names[name] else ""
            raise _palette_error(path, line, f"name {name!r} is used twice{where}; palette "
                                             "names must be unique")
        if rgb in seen_values:
            other, oline = seen_values[rgb]
            where = f" (line {oline})" if oline else ""
            raise _palette_error(path, line, f"{name!r} has the same value {color_hex(rgb)} "
                                             f"as {other!r}{where}; each entry needs its own "
                                             "value so fills can be told apart")
        seen_names[name] = line
        seen_values[rgb] = (name, line)
    return Palette(names=tuple(e[0] for e in entries),
                   colors=np.array([e[1] for e in entries], np.uint8).reshape(-1, 3),
                   source=os.fspath(path))


def parse_gpl(text: str, path: PathLike = "palette.gpl") -> Palette:
    """A GIMP palette: ``GIMP Palette`` then optional ``Name:``/``Columns:``/``Channels:``
    lines, ``#`` comments, and one ``R G B name`` entry per line (RGBA palettes: ``R G B A
    name``, alpha ignored). An entry without a name is named by its value ``#rrggbb``."""
    lines = text.splitlines()
    if not lines or lines[0].strip().lstrip("\ufeff") != "GIMP Palette":
        raise _palette_error(path, 1, "not a GIMP palette (the first line must be "
                                      "'GIMP Palette')")
    n_values = 3
    entries: list[tuple[str, tuple[int, int, int], int | None]] = []
    for no, raw in enumerate(lines[1:], start=2):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        key = s.split(":", 1)[0].strip().lower()
        if ":" in s and key in ("name", "columns", "channels"):
            if key == "channels":
                value = s.split(":", 1)[1].strip().upper()
                if value not in ("RGB", "RGBA"):
                    raise _palette_error(path, no, f"Channels {value!r}: only RGB or RGBA")
                n_values = len(value)
            continue
        parts = s.split(None, n_values)
        try:
            values = [int(v) for v in parts[:n_values]]
        except ValueError:
            values = []
        if len(values) != n_values or not all(0 <= v <= 255 for v in values):
            want = "R G B A" if n_values == 4 else "R G B"
            raise _palette_error(path, no, f"expected '{want} name' with whole numbers 0-255, "
                                           f"got {s[:60]!r}")
        rgb = (values[0], values[1], values[2])
        name = parts[n_values].strip() if len(parts) > n_values else ""
        entries.append((name or color_hex(rgb), rgb, no))
    return _build(entries, path)


def _json_line(text: str, key: str) -> int | None:
    at = text.find(json.dumps(key, ensure_ascii=False))
    if at < 0:
        at = text.find(json.dumps(key))
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def parse_json_palette(text: str, path: PathLike = "palette.json") -> Palette:
    """A JSON object ``{"name": "#rrggbb", ...}`` (entries in file order)."""
    pairs: list[tuple[str, object]] = []

    def keep(items: list[tuple[str, object]]) -> dict:
        pairs[:] = items  # the outermost object is decoded last
        return dict(items)

    try:
        data = json.loads(text, object_pairs_hook=keep)
    except json.JSONDecodeError as e:
        raise _palette_error(path, e.lineno, f"not valid JSON ({e.msg}, column {e.colno})")
    if not isinstance(data, dict):
        raise _palette_error(path, 1, 'expected a JSON object {"name": "#rrggbb", ...}')
    entries: list[tuple[str, tuple[int, int, int], int | None]] = []
    for name, value in pairs:
        line = _json_line(text, name)
        m = _HEX.match(value) if isinstance(value, str) else None
        if not name.strip():
            raise _palette_error(path, line, "an entry has an empty name")
        if m is None:
            raise _palette_error(path, line, f"{name!r}: value {value!r} is not a color "
                                             "'#rrggbb'")
        h = m.group(1)
        entries.append((name, (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)), line))
    return _build(entries, path)


def load_palette(path: PathLike | Palette) -> Palette:
    """Read a ``.gpl`` or ``.json`` palette (a Palette passes through)."""
    if isinstance(path, Palette):
        return path
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in PALETTE_SUFFIXES:
        raise DaconError(p, f"unknown palette format {suffix or '(no extension)'!r} "
                            "(use a GIMP .gpl or a .json palette)")
    if not p.is_file():
        raise DaconError(p, "palette file not found")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DaconError(p, f"palette is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise DaconError(p, f"cannot read palette ({e.strerror or e})") from None
    return parse_gpl(text, p) if suffix == ".gpl" else parse_json_palette(text, p)


def check_palette_options(palette: object, tolerance: object | None,
                          strict: bool) -> Palette | None:
    """Validate the palette options together; the loaded palette or None."""
    if palette is None:
        if strict:
            raise DaconError(None, "--strict-palette needs --palette FILE")
        if tolerance is not None:
            raise DaconError(None, f"--palette-tolerance {tolerance} needs --palette FILE")
        return None
    if tolerance is not None:
        check_tolerance(tolerance)
    return load_palette(palette)  # type: ignore[arg-type]


# -- snapping ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OffPalette:
    """A reference color farther than the tolerance from every palette entry."""

    frame: str
    color: str       # #rrggbb
    pixels: int      # pixels of the segments with this color in that frame
    nearest: str     # the entry it was snapped to
    nearest_color: str
    delta_e: float

    def message(self, tolerance: float, with_frame: bool = True) -> str:
        where = f"{self.frame}: " if with_frame else ""
        return (f"{where}color {self.color} ({self.pixels} px) is delta-E "
                f"{self.delta_e:.1f} from the nearest palette entry {self.nearest!r} "
                f"({self.nearest_color}), more than --palette-tolerance {tolerance:g}")


def snap_colors(palette: Palette, colors: np.ndarray, areas: np.ndarray | None = None, *,
                tolerance: float = DEFAULT_TOLERANCE, frame: str = "",
                ) -> tuple[np.ndarray, list[OffPalette]]:
    """(n, 4) uint8 segment colors -> (palette values, off-palette reports).

    Visible colors (alpha > 0) become their nearest entry with alpha 255; alpha 0 stays
    (0, 0, 0, 0). ``areas`` (n,) weigh the report's pixel counts.
    """
    colors = np.asarray(colors, np.uint8).reshape(-1, 4)
    areas = np.ones(len(colors), np.int64) if areas is None else np.asarray(areas, np.int64)
    out = np.zeros_like(colors)
    visible = colors[:, 3] > 0
    if not visible.any():
        return out, []
    uniq, inverse = np.unique(colors[visible, :3], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    idx, de = palette.nearest(uniq)
    out[visible, :3] = palette.colors[idx][inverse]
    out[visible, 3] = 255
    pixels = np.bincount(inverse, weights=areas[visible], minlength=len(uniq))
    far = np.nonzero(de > tolerance)[0]
    reports = [OffPalette(frame, color_hex(uniq[k]), int(pixels[k]), palette.names[idx[k]],
                          color_hex(palette.colors[idx[k]]), float(de[k]))
               for k in far[np.argsort(-pixels[far], kind="stable")]]
    return out, reports


def snap_reference(ref: Reference, palette: Palette, *, tolerance: float = DEFAULT_TOLERANCE,
                   ) -> tuple[Reference, list[OffPalette]]:
    """The reference with its segment colors snapped (a copy), and what was off-palette."""
    frame = str(ref.color_path) if ref.color_path is not None else (ref.name or "reference")
    colors, reports = snap_colors(palette, ref.colors, ref.frame.areas(), tolerance=tolerance,
                                  frame=frame)
    return replace(ref, colors=colors), reports


def report_off_palette(reports: Sequence[OffPalette], palette: Palette, tolerance: float,
                       strict: bool, log: Callable[[str], None] | None = None,
                       path: PathLike | None = None) -> None:
    """Warn about each report (``log``, else stderr), or with ``strict`` refuse in one line."""
    if not reports:
        return
    if strict:
        first = reports[0]
        more = f"; {len(reports) - 1} more off-palette color(s)" if len(reports) > 1 else ""
        raise DaconError(path if path is not None else first.frame,
                         f"{first.message(tolerance, with_frame=False)} in "
                         f"{palette.source or 'the palette'}"
                               f"{more} (--strict-palette refuses them: add them to the "
                               "palette or raise --palette-tolerance)")
    import sys

    for r in reports:
        text = f"warning: {r.message(tolerance)}; snapped to it"
        if log is not None:
            log(text)
        else:
            print(f"dacon: {text}", file=sys.stderr)


# -- names ---------------------------------------------------------------------------------
def segment_names(colors: np.ndarray, palette: Palette | None = None) -> list[str | None]:
    """Each segment's name: its palette entry, else ``#rrggbb`` (``#rrggbbaa`` when partly
    transparent); None for transparent (alpha 0) segments."""
    colors = np.asarray(colors, np.uint8).reshape(-1, 4)
    if len(colors) == 0:
        return []
    uniq, inverse = np.unique(colors, axis=0, return_inverse=True)  # name each color once
    found = palette.lookup(uniq[:, :3]) if palette is not None else \
        np.full(len(uniq), -1, np.int64)
    names: list[str | None] = []
    for (r, g, b, a), k in zip(uniq.tolist(), found.tolist()):
        if a == 0:
            names.append(None)
        elif k >= 0 and palette is not None:
            names.append(palette.names[k])
        else:
            names.append(hex_color((r, g, b, a)))
    return [names[i] for i in inverse.reshape(-1).tolist()]


# -- extraction and writing ----------------------------------------------------------------
def extract_colors(paths: Sequence[PathLike]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct visible colors of images: ((m, 3) uint8, pixel counts (m,), frames (m,)),
    most used first. Pixels with alpha 0 are left out."""
    from ..fileio.images import as_rgba, read_image

    keys_all, counts_all = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for p in paths:
        rgba = as_rgba(read_image(Path(p)))
        px = rgba.reshape(-1, 4)
        px = px[px[:, 3] > 0].astype(np.int64)
        keys, counts = np.unique((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2],
                                 return_counts=True)
        keys_all.append(keys)
        counts_all.append(counts)
    uniq, inverse = np.unique(np.concatenate(keys_all), return_inverse=True)
    inverse = inverse.reshape(-1)
    total = np.bincount(inverse, weights=np.concatenate(counts_all),
                        minlength=len(uniq)).astype(np.int64)
    frames = np.bincount(inverse, minlength=len(uniq)).astype(np.int64)
    order = np.lexsort((uniq, -total))  # most used first, then by value
    uniq, total, frames = uniq[order], total[order], frames[order]
    rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], 1).astype(np.uint8)
    return rgb.reshape(-1, 3), total, frames


def format_palette(names: Sequence[str], colors: np.ndarray, fmt: str,
                   comments: Sequence[str] | None = None, title: str = "DACoN") -> str:
    """Palette text: ``gpl`` (with an optional comment line above each entry) or ``json``."""
    colors = np.asarray(colors, np.uint8).reshape(-1, 3)
    if fmt == "json":
        return json.dumps({n: color_hex(c) for n, c in zip(names, colors.tolist())},
                          indent=1, ensure_ascii=False) + "\n"
    out = ["GIMP Palette", f"Name: {title}", "Columns: 8", "#"]
    for k, (n, (r, g, b)) in enumerate(zip(names, colors.tolist())):
        if comments is not None:
            out.append(f"# {comments[k]}")
        out.append(f"{r:3d} {g:3d} {b:3d}\t{n}")
    return "\n".join(out) + "\n"


def palette_command(refs: Sequence[PathLike], out: PathLike, *, min_pixels: int = 1,
                    max_colors: int = 256, overwrite: bool = False) -> dict:
    """``dacon palette``: write the distinct colors of reference frames as a starting
    palette (names ``#rrggbb``); returns what was found."""
    from ..fileio.files import atomic_path, check_writable_dir, collect_images

    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if "." + fmt not in PALETTE_SUFFIXES:
        raise DaconError(out, "--out must end in .gpl or .json")
    if out.exists() and not overwrite:
        raise DaconError(out, "already exists (use --overwrite to replace it)")
    paths = collect_images(refs)
    from ..fileio.images import read_image

    for p in paths:  # every file decodes before anything is written
        read_image(p)
    rgb, counts, frames = extract_colors(paths)
    keep = counts >= min_pixels
    n_found = int(keep.sum())
    rgb, counts, frames = rgb[keep][:max_colors], counts[keep][:max_colors], \
        frames[keep][:max_colors]
    if len(rgb) == 0:
        raise DaconError(None, f"no color with at least {min_pixels} visible pixels in "
                               f"{len(paths)} reference frame(s)")
    names = [color_hex(c) for c in rgb.tolist()]
    comments = [f"{c} px in {f} of {len(paths)} frame(s)" for c, f in zip(counts.tolist(),
                                                                          frames.tolist())]
    text = format_palette(names, rgb, fmt, comments, title=out.stem)
    check_writable_dir(out.parent)
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return {"out": str(out), "frames": len(paths), "colors": names,
            "pixels": counts.tolist(), "found": n_found, "written": len(names)}


__all__ = [
    "DEFAULT_TOLERANCE",
    "OffPalette",
    "Palette",
    "check_palette_options",
    "check_tolerance",
    "color_hex",
    "extract_colors",
    "format_palette",
    "load_palette",
    "palette_command",
    "parse_gpl",
    "parse_json_palette",
    "report_off_palette",
    "segment_names",
    "snap_colors",
    "snap_reference",
]
