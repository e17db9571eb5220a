"""Colors as users write them: names, ``R,G,B`` and ``#rrggbb`` (standard library only)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

RGB = tuple[int, int, int]

NAMED_COLORS: dict[str, RGB] = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "yellow": (255, 255, 0),
    "orange": (255, 128, 0), "purple": (128, 0, 255), "pink": (255, 105, 180),
    "brown": (120, 70, 30), "darkblue": (0, 0, 139), "navy": (0, 0, 128),
}
"""Names accepted for trace / line colors (besides R,G,B and #rrggbb)."""

DEFAULT_TRACE_COLORS: tuple[RGB, ...] = ((255, 0, 0), (0, 0, 255), (0, 255, 0))
"""Pure red, blue, green: BasicPBC's shading-boundary lines, in its processing order."""


def parse_color(text: str | Sequence[int]) -> RGB:
    """'red', 'R,G,B' (0..255) or '#rrggbb' (or an (r, g, b) sequence) -> (r, g, b).

    Raises ValueError naming what is allowed.
    """
    if not isinstance(text, str):
        vals = [int(v) for v in text]
        if len(vals) != 3 or not all(0 <= v <= 255 for v in vals):
            raise ValueError(f"color {tuple(text)!r}: need 3 values in 0..255")
        return vals[0], vals[1], vals[2]
    t = text.strip().lower()
    if t in NAMED_COLORS:
        return NAMED_COLORS[t]
    m = re.fullmatch(r"#?([0-9a-f]{6})", t)
    if m and (t.startswith("#") or not t.isdigit()):
        h = m.group(1)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    parts = [p.strip() for p in t.split(",")]
    if len(parts) == 3 and all(p.isdigit() for p in parts) and all(int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise ValueError(f"color {text!r}: use a name ({', '.join(sorted(NAMED_COLORS))}), "
                     "R,G,B with values 0..255, or #rrggbb")


def ink_colors(colors: str | Iterable[str | Sequence[int]] | None,
               default: tuple[RGB, ...]) -> tuple[RGB, ...]:
    """Trace or line colors as given (None = ``default``); white is refused (it is paper)."""
    if colors is None:
        return default
    if isinstance(colors, str):
        colors = [colors]
    out = []
    for c in colors:
        rgb = parse_color(c)
        if sum(rgb) >= 3 * 250:
            raise ValueError(f"color {c!r} is white: it cannot be told from paper")
        out.append(rgb)
    return tuple(out)


def hex_color(rgba: Sequence[int]) -> str:
    """(r, g, b[, a]) -> '#rrggbb', with 'aa' appended when an alpha below 255 is given."""
    r, g, b = (int(v) for v in rgba[:3])
    alpha = "" if len(rgba) < 4 or int(rgba[3]) == 255 else f"{int(rgba[3]):02x}"
    return f"#{r:02x}{g:02x}{b:02x}{alpha}"
