"""Plain functions on shots (line-art image strips) and their reference sheets.

Operators and the panel call these; tests call them directly. Paths are stored as the user gave
them (``//`` stays relative to the .blend) and made absolute only when a job needs them.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from typing import Any

import bpy

from . import compat, palettes
from .properties import DEFAULT_FORMATS, FORMATS

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_NUMBER = re.compile(r"\d+")  # the engine's frame number: the last run of digits in a stem


class ShotError(Exception):
    """A shot cannot be used as asked; the message is meant for the user."""


def settings(strip: Any) -> Any:
    """The ``DaconShot`` settings stored on ``strip``."""
    return strip.dacon


def is_shot(strip: Any) -> bool:
    """True when ``strip`` is an image strip marked as a DACoN shot."""
    return compat.is_image_strip(strip) and bool(strip.dacon.is_shot)


def shots(scene: Any) -> list[Any]:
    """Every shot strip in ``scene`` (also inside meta strips), by name."""
    return sorted((s for s in compat.all_strips(scene) if is_shot(s)), key=lambda s: s.name)


def ensure_uid(strip: Any) -> str:
    """A stable id for ``strip`` (kept through renames; created on first use)."""
    shot = strip.dacon
    if not shot.uid:
        shot.uid = uuid.uuid4().hex
    return str(shot.uid)


def default_output_dir(strip: Any) -> str:
    """``//dacon/<strip name>/``, with characters unsafe in folder names replaced."""
    name = _UNSAFE.sub("_", strip.name).strip(" .") or "shot"
    return f"//dacon/{name}/"


def make_shot(strip: Any, formats: Iterable[str] | None = None) -> Any:
    """Mark an image strip as a shot and fill in defaults that are still empty.

    The default output folder is written once, so renaming the strip later keeps the results
    where they were produced.
    """
    if not compat.is_image_strip(strip):
        raise ShotError(f"'{strip.name}' is not an image strip; a shot is line art as images")
    shot = strip.dacon
    if not shot.is_shot:
        shot.is_shot = True
        shot.formats = set(formats) if formats else set(DEFAULT_FORMATS)
    ensure_uid(strip)
    if not shot.output_dir:
        shot.output_dir = default_output_dir(strip)
    return shot


def output_dir(strip: Any) -> str:
    """The output folder as stored (``//`` relative paths stay relative)."""
    return str(strip.dacon.output_dir) or default_output_dir(strip)


def absolute_path(path: str) -> str:
    """``path`` made absolute; ``//`` needs a saved .blend (ShotError otherwise)."""
    if path.startswith("//") and not bpy.data.filepath:
        raise ShotError(f"'{path}' is relative to the .blend file: save the .blend first "
                        "or choose an absolute folder")
    return os.path.normpath(bpy.path.abspath(path))


def resolve_output_dir(strip: Any) -> str:
    """Absolute output folder of the shot."""
    return absolute_path(output_dir(strip))


def frame_file(strip: Any, frame: int) -> str | None:
    """Absolute path of the image ``strip`` shows at scene frame ``frame`` (None outside it)."""
    start, end = compat.strip_range(strip)
    if not start <= frame < end:  # strip_elem_from_frame clamps to the first/last element
        return None
    elem = strip.strip_elem_from_frame(frame)
    if elem is None:
        return None
    return os.path.join(absolute_path(strip.directory), elem.filename)


def frame_number(path: str) -> int | None:
    """The frame number the engine reads from a file name (last run of digits in the stem)."""
    found = _NUMBER.findall(os.path.splitext(os.path.basename(path))[0])
    return int(found[-1]) if found else None


def shot_for(scene: Any, strip: Any) -> Any | None:
    """The shot ``strip`` belongs to: itself, or the shot whose result or review strip it is."""
    if strip is None:
        return None
    if is_shot(strip):
        return strip
    uid = strip.dacon.uid
    if not uid:
        return None
    for shot in shots(scene):
        if uid in (shot.dacon.result_uid, shot.dacon.review_uid):
            return shot
    return None


def line_art_files(strip: Any) -> list[tuple[int, str]]:
    """``(scene frame, absolute path)`` of every frame the shot strip shows."""
    start, end = compat.strip_range(strip)
    out = []
    for frame in range(start, end):
        path = frame_file(strip, frame)
        if path is not None:
            out.append((frame, path))
    return out


# --- reference sheets ----------------------------------------------------------------------


def add_reference(strip: Any, *, color_path: str = "", line_path: str = "",
                  source_strip: Any = None, frame: int | None = None) -> Any:
    """Append a reference sheet (a file, or a frame of ``source_strip``) and make it active."""
    shot = make_shot(strip)
    ref = shot.references.add()
    if source_strip is not None:
        if not compat.is_image_strip(source_strip):
            raise ShotError(f"'{source_strip.name}' is not an image strip")
        frame = compat.strip_range(source_strip)[0] if frame is None else int(frame)
        path = frame_file(source_strip, frame)
        if path is None:
            shot.references.remove(len(shot.references) - 1)
            raise ShotError(f"'{source_strip.name}' shows nothing at frame {frame}")
        ref.source = "STRIP"
        ref.strip_uid = ensure_uid(source_strip)
        ref.strip_name = source_strip.name
        ref.frame = frame
        ref.color_path = bpy.path.relpath(path) if bpy.data.filepath else path
    else:
        ref.source = "FILE"
        ref.color_path = color_path
    ref.line_path = line_path
    shot.active_reference = len(shot.references) - 1
    return ref


def remove_reference(strip: Any, index: int) -> None:
    """Remove reference sheet ``index``; the active index stays on a valid neighbour."""
    shot = strip.dacon
    if not 0 <= index < len(shot.references):
        raise ShotError(f"no reference sheet {index + 1}")
    shot.references.remove(index)
    shot.active_reference = max(0, min(shot.active_reference, len(shot.references) - 1))


def move_reference(strip: Any, index: int, step: int) -> int:
    """Move reference sheet ``index`` by ``step`` (-1 up, +1 down); returns its new index."""
    shot = strip.dacon
    n = len(shot.references)
    if not 0 <= index < n:
        raise ShotError(f"no reference sheet {index + 1}")
    new = max(0, min(n - 1, index + step))
    if new != index:
        shot.references.move(index, new)
    shot.active_reference = new
    return new


def find_strip_by_uid(scene: Any, uid: str) -> Any | None:
    """The strip whose stored id is ``uid``, or None."""
    if not uid:
        return None
    for strip in compat.all_strips(scene):
        if strip.dacon.uid == uid:
            return strip
    return None


def resolve_reference(scene: Any, ref: Any) -> dict[str, str | None]:
    """``{"color": abs path, "line": abs path | None}`` for one reference sheet.

    A strip reference follows its strip through renames (by id); when the strip is gone, the
    file it pointed to when last resolved is used.
    """
    if ref.source == "STRIP":
        src = find_strip_by_uid(scene, ref.strip_uid)
        if src is not None:
            path = frame_file(src, ref.frame)
            if path is None:
                raise ShotError(f"'{src.name}' shows nothing at frame {ref.frame}")
            ref.strip_name = src.name
            ref.color_path = bpy.path.relpath(path) if bpy.data.filepath else path
    if not ref.color_path:
        raise ShotError("a reference sheet has no colored image")
    color = absolute_path(ref.color_path)
    line = absolute_path(ref.line_path) if ref.line_path else None
    return {"color": color, "line": line}


def colorize_request(scene: Any, strip: Any) -> dict[str, Any]:
    """Keyword arguments for ``EngineClient.colorize`` for this shot (all paths absolute)."""
    if not is_shot(strip):
        raise ShotError(f"'{strip.name}' is not a DACoN shot")
    shot = strip.dacon
    if len(shot.references) == 0:
        raise ShotError(f"shot '{strip.name}' has no reference sheets")
    targets = list(dict.fromkeys(path for _frame, path in line_art_files(strip)))  # holds: once
    if not targets:
        raise ShotError(f"shot '{strip.name}' shows no frames")
    request = {
        "targets": targets,
        "references": [resolve_reference(scene, ref) for ref in shot.references],
        "out": resolve_output_dir(strip),
        "mode": shot.mode,
        "formats": tuple(f for f, _n, _d in FORMATS if f in shot.formats),
        "gap_radius": int(shot.gap_radius),
        "graph_refine": bool(shot.graph_refine),
        "mirror": bool(shot.mirror),
        "reference_zooms": closeup_zooms(shot.closeup_views),
        "adapt_seconds": float(shot.adapt_seconds) if shot.learn_character else 0.0,
    }
    palette = palette_path(strip)
    if palette is not None:  # the engine snaps reference colors to it (dacon colorize --palette)
        request["palette"] = palette
    return request


def closeup_zooms(choice: str) -> list[float]:
    """The engine's ``reference_zooms`` for the shot's *Close-up Views* choice."""
    return [] if choice == "OFF" else [float(z) for z in choice.split(",")]


def palette_path(strip: Any) -> str | None:
    """The shot's palette file for the engine (absolute), or None without a palette.

    A Blender palette datablock (``palette_datablock``) wins over the palette file: it is
    written (again) as ``<output folder>/palette_<name>.gpl`` and that path is returned.
    """
    shot = strip.dacon
    block = shot.palette_datablock
    if block is not None:
        try:
            return palettes.write_gpl(block, resolve_output_dir(strip))
        except palettes.PaletteError as ex:
            raise ShotError(str(ex)) from None
    if shot.palette:
        return absolute_path(str(shot.palette))
    return None
