"""A Blender palette datablock as a named palette file the engine reads (GIMP ``.gpl``).

Values: each ``PaletteColor`` becomes an 8-bit sRGB value, what the color picker shows
(4.x stores sRGB, 5.x scene linear: :func:`compat.palette_color_srgb`), rounded to the
nearest of 0-255.

Names: Blender palette colors have none, so entry ``i`` (0-based, in the palette's order) is
named ``color_<i+1>`` with two digits (``color_01``, ``color_02``, ...), unless the datablock
has a custom property ``dacon_names``, a list of strings by color index (e.g.
``bpy.data.palettes["day"]["dacon_names"] = ["paper", "skin", "hair"]``): a non-empty string
names that color (whitespace runs become one space), an empty or missing one falls back to
``color_<n>``. Two palettes with the same number of colors therefore share their names, which
is what "Recolor with Palette" needs: entry ``n`` of the night palette replaces entry ``n``
of the day palette.

The engine refuses palettes with two equal names or two equal values, so both are refused
here first, naming the datablock and the colors.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from . import compat

NAMES_KEY = "dacon_names"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')

Entry = tuple[str, tuple[int, int, int]]


class PaletteError(Exception):
    """A palette datablock cannot be written as asked; the message is meant for the user."""


def default_name(index: int) -> str:
    """The name of color ``index`` (0-based) without a stored name: ``color_01``, ..."""
    return f"color_{index + 1:02d}"


def to_byte(value: float) -> int:
    """A 0-1 float as the nearest 8-bit value (clamped)."""
    return min(255, max(0, int(float(value) * 255.0 + 0.5)))


def stored_names(palette: Any) -> list[str]:
    """The datablock's ``dacon_names`` (by color index; empty when it has none)."""
    names = palette.get(NAMES_KEY)
    if names is None or isinstance(names, str):
        return []
    return [" ".join(str(n).split()) for n in names]


def entries(palette: Any) -> list[Entry]:
    """``(name, (r, g, b))`` of every color of the datablock, in its order (checked)."""
    names = stored_names(palette)
    out: list[Entry] = []
    for i, color in enumerate(palette.colors):
        r, g, b = (to_byte(v) for v in compat.palette_color_srgb(color))
        name = names[i] if i < len(names) and names[i] else default_name(i)
        out.append((name, (r, g, b)))
    if not out:
        raise PaletteError(f"the palette '{palette.name}' has no colors")
    seen_names: dict[str, int] = {}
    seen_values: dict[tuple[int, int, int], int] = {}
    for i, (name, rgb) in enumerate(out):
        if name in seen_names:
            raise PaletteError(f"the palette '{palette.name}' names colors {seen_names[name] + 1} "
                               f"and {i + 1} both '{name}'; names must be unique")
        if rgb in seen_values:
            j = seen_values[rgb]
            raise PaletteError(f"the palette '{palette.name}' has colors {j + 1} ('{out[j][0]}') "
                               f"and {i + 1} ('{name}') both #{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}"
                               "; each needs its own value so fills can be told apart")
        seen_names[name] = i
        seen_values[rgb] = i
    return out


def gpl_text(title: str, items: list[Entry]) -> str:
    """A GIMP palette: header, then one ``R G B<tab>name`` line per entry."""
    lines = ["GIMP Palette", f"Name: {' '.join(title.split())}", "Columns: 0",
             "# written by DACoN for Blender from a Blender palette datablock"]
    lines += [f"{r:3d} {g:3d} {b:3d}\t{name}" for name, (r, g, b) in items]
    return "\n".join(lines) + "\n"


def file_name(palette: Any) -> str:
    """``palette_<datablock name>.gpl``, with characters unsafe in file names replaced."""
    name = _UNSAFE.sub("_", palette.name).strip(" .") or "palette"
    return f"palette_{name}.gpl"


def write_gpl(palette: Any, folder: str) -> str:
    """Write the datablock as ``folder/palette_<name>.gpl`` atomically; its absolute path.

    The text goes to a temporary file beside it, renamed onto the final name once complete,
    so the engine never reads half a palette.
    """
    text = gpl_text(palette.name, entries(palette))
    path = os.path.join(folder, file_name(palette))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".palette.", suffix=".tmp", dir=folder)
    except OSError as ex:
        raise PaletteError(f"cannot write the palette into {folder} ({ex.strerror or ex})") \
            from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as ex:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PaletteError(f"cannot write {path} ({ex.strerror or ex})") from None
    return path
