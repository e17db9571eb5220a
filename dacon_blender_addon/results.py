"""The strips a shot's jobs produce: the colored result and the review highlights.

Both are image strips frame-aligned with the shot's line art: one element per scene frame the
line art shows, named ``<line-art stem>.png`` inside the engine's output (or review) folder,
starting at the line art's first visible frame. Each is found again through its stored id
(``shot.result_uid`` / ``shot.review_uid``), so a re-run updates it in place, whatever it has
been renamed to or wherever it has been moved.

The result strip is the final frame: the engine composed lines and fills (trace lines
filled) in each PNG, so the strip sits above the line art with ALPHA_OVER, read as sRGB, and
covers it. Line art on opaque paper is covered everywhere. Line art drawn on transparent
paper (the engine's record says ``frame.transparent_paper``) leaves the paper to the shot's
paper choice: White or Color puts a color strip (``<shot>.paper``) between the line art and
the result; Transparent Film mutes the line art (the add-on unmutes it when the choice
changes) so the fills show over whatever is under the shot. Review highlights (translucent
magenta, transparent elsewhere) sit above the result with ALPHA_OVER. What the scene's color
management must be for the render to equal the PNGs is in :mod:`flatcolor`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import bpy

from . import compat, shots

RESULT_BLEND = "ALPHA_OVER"
REVIEW_BLEND = "ALPHA_OVER"
PAPER_BLEND = "ALPHA_OVER"  # an opaque color strip: covers the line art under it
MAX_CHANNEL = 128


def first_free_channel(scene: Any, above: Any, start: int, end: int,
                       ignore: Any = None) -> int:
    """The lowest channel over ``above``'s with nothing in scene frames ``[start, end)``."""
    busy = set()
    for other in compat.sibling_strips(scene, above):
        if ignore is not None and other == ignore:
            continue
        s, e = compat.strip_range(other)
        if s < end and start < e:
            busy.add(int(other.channel))
    for channel in range(int(above.channel) + 1, MAX_CHANNEL + 1):
        if channel not in busy:
            return channel
    raise shots.ShotError(f"no free channel above '{above.name}' for frames {start}-{end - 1}")


def frame_stems(strip: Any) -> tuple[int, list[str]]:
    """First visible frame of the shot and the line-art stem shown at each frame from there."""
    files = shots.line_art_files(strip)
    if not files:
        raise shots.ShotError(f"shot '{strip.name}' shows no frames")
    return files[0][0], [os.path.splitext(os.path.basename(path))[0] for _f, path in files]


def _stored_dir(folder: str) -> str:
    """``folder`` as a strip directory: relative to the .blend when the .blend is saved."""
    folder = os.path.join(folder, "")
    if bpy.data.filepath:
        try:
            return os.path.join(str(bpy.path.relpath(folder)), "")
        except ValueError:  # another drive (Windows)
            return folder
    return folder


def _copy_placement(src: Any, dst: Any) -> None:
    """Same position, scale, rotation and crop as the line art, so pixels line up."""
    for name in ("scale_x", "scale_y", "offset_x", "offset_y", "rotation"):
        setattr(dst.transform, name, getattr(src.transform, name))
    dst.transform.origin = tuple(src.transform.origin)
    for name in ("min_x", "max_x", "min_y", "max_y"):
        setattr(dst.crop, name, getattr(src.crop, name))


def _select_only(scene: Any, strip: Any) -> None:
    for other in compat.all_strips(scene):
        other.select = False
    strip.select = True
    compat.set_active_strip(scene, strip)


def place_sequence(scene: Any, shot_strip: Any, folder: str, uid_attr: str, name: str,
                   blend: str, above: Any) -> Any:
    """Add (or update in place) the strip showing ``folder/<stem>.png`` for every shot frame.

    ``uid_attr`` is the shot setting linking to the strip; ``above`` the strip it must be
    placed over when it is new. Returns the strip, selected and active.
    """
    start, stems = frame_stems(shot_strip)
    files = [f"{stem}.png" for stem in stems]
    shot = shot_strip.dacon
    strip = shots.find_strip_by_uid(scene, getattr(shot, uid_attr))
    if strip is not None and not compat.is_image_strip(strip):
        strip = None
    directory = _stored_dir(folder)
    if strip is None:
        end = start + len(files)
        channel = first_free_channel(scene, above, start, end)
        coll = compat.top_strips(scene)
        strip = coll.new_image(name=name, filepath=os.path.join(folder, files[0]),
                               channel=channel, frame_start=start, fit_method="ORIGINAL")
        for filename in files[1:]:
            strip.elements.append(filename)
        parent = shot_strip.parent_meta()
        if parent is not None:
            strip.move_to_meta(parent)
            strip.channel = first_free_channel(scene, above, start, end, ignore=strip)
        setattr(shot, uid_attr, shots.ensure_uid(strip))
    else:
        elements = strip.elements
        while len(elements) > len(files):
            elements.pop()
        for elem, filename in zip(elements, files):
            elem.filename = filename
        for filename in files[len(elements):]:
            elements.append(filename)
    strip.directory = directory
    if compat.strip_range(strip)[0] != start:
        compat.move_strip(strip, start)
    strip.blend_type = blend
    _copy_placement(shot_strip, strip)
    strip.invalidate_cache("RAW")  # the files changed under the same names
    _select_only(scene, strip)
    return strip


def transparent_paper(out_dir: str, stem: str) -> bool:
    """Whether frame ``stem``'s record says its line art's paper is transparent."""
    try:
        with open(os.path.join(out_dir, f"{stem}.json"), encoding="utf-8") as fh:
            return bool(json.load(fh)["frame"].get("transparent_paper"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def add_result_strip(scene: Any, shot_strip: Any, out_dir: str) -> Any:
    """The colored sequence over the line art (first free channel above it), with the
    shot's paper (:func:`apply_paper`)."""
    first = shot_strip.elements[0].filename if len(shot_strip.elements) else ""
    shot_strip.dacon.transparent_paper = transparent_paper(out_dir,
                                                           os.path.splitext(first)[0])
    strip = place_sequence(scene, shot_strip, out_dir, "result_uid", f"{shot_strip.name}.color",
                           RESULT_BLEND, above=shot_strip)
    strip.colorspace_settings.name = "sRGB"  # the engine writes sRGB, whatever the defaults
    apply_paper(scene, shot_strip)
    _select_only(scene, strip)
    return strip


def paper_strip(scene: Any, shot_strip: Any) -> Any | None:
    """The color strip under the shot's result (transparent paper on White or Color)."""
    strip = shots.find_strip_by_uid(scene, shot_strip.dacon.paper_uid)
    return strip if strip is not None and getattr(strip, "type", "") == "COLOR" else None


def paper_rgb(shot: Any) -> tuple[float, float, float]:
    """The shot's paper as display sRGB floats (0-1)."""
    if shot.paper == "COLOR":
        r, g, b = shot.paper_color
        return float(r), float(g), float(b)
    return 1.0, 1.0, 1.0


def apply_paper(scene: Any, shot_strip: Any) -> Any | None:
    """Make the strips under the shot's result show its paper choice; the paper strip or
    None. Nothing to do without a result strip."""
    shot = shot_strip.dacon
    result = result_strip(scene, shot_strip)
    paper = paper_strip(scene, shot_strip)
    if result is None:
        return paper
    wants_paper = shot.transparent_paper and shot.paper in ("WHITE", "COLOR")
    wants_mute = shot.transparent_paper and shot.paper == "TRANSPARENT"
    start, end = compat.strip_range(result)
    if paper is not None and (not wants_paper or compat.strip_range(paper) != (start, end)):
        compat.remove_strip(scene, paper)
        paper = None
    if wants_paper:
        if paper is None:
            channel = first_free_channel(scene, shot_strip, start, end)
            paper = compat.new_color_strip(compat.top_strips(scene), f"{shot_strip.name}.paper",
                                           channel, start, end)
            parent = shot_strip.parent_meta()
            if parent is not None:
                paper.move_to_meta(parent)
                paper.channel = first_free_channel(scene, shot_strip, start, end,
                                                   ignore=paper)
            shot.paper_uid = shots.ensure_uid(paper)
        paper.color = paper_rgb(shot)
        paper.blend_type = PAPER_BLEND
        if paper.channel < shot_strip.channel:
            paper.channel = first_free_channel(scene, shot_strip, start, end, ignore=paper)
        _keep_above(scene, result, paper, start, end)
        review = review_strip(scene, shot_strip)
        if review is not None:
            _keep_above(scene, review, result, *compat.strip_range(review))
    if wants_mute != shot.line_art_muted:  # only ever undo a mute the add-on made
        shot_strip.mute = wants_mute
        shot.line_art_muted = wants_mute
    return paper


def _keep_above(scene: Any, strip: Any, below: Any, start: int, end: int) -> None:
    """Move ``strip`` to the first free channel over ``below`` when it is not above it."""
    if strip.channel <= below.channel:
        strip.channel = first_free_channel(scene, below, start, end, ignore=strip)


def add_review_strip(scene: Any, shot_strip: Any, review_dir: str) -> Any:
    """The low-confidence highlights over the result strip (or the line art without one)."""
    above = result_strip(scene, shot_strip) or shot_strip
    return place_sequence(scene, shot_strip, review_dir, "review_uid",
                          f"{shot_strip.name}.review", REVIEW_BLEND, above=above)


def result_strip(scene: Any, shot_strip: Any) -> Any | None:
    """The shot's result strip, or None (never made, or deleted)."""
    return shots.find_strip_by_uid(scene, shot_strip.dacon.result_uid)


def refresh_result_strip(scene: Any, shot_strip: Any, out_dir: str) -> Any:
    """After the result files changed on disk (same names): show them again.

    The sequencer keeps decoded frames in its cache (5.x renders use them too), so the result
    strip's cache is invalidated, and images opened in Blender from ``out_dir`` are reloaded
    (unless they hold unsaved paint). A deleted result strip is made again.
    """
    strip = result_strip(scene, shot_strip)
    if strip is None or not compat.is_image_strip(strip):
        strip = add_result_strip(scene, shot_strip, out_dir)
    else:
        strip.invalidate_cache("RAW")
    reload_images(out_dir)
    return strip


def reload_images(folder: str) -> int:
    """Reload every image datablock read from a file directly in ``folder``; how many."""
    target = os.path.normcase(os.path.normpath(folder))
    count = 0
    for image in bpy.data.images:
        if image.source not in ("FILE", "SEQUENCE") or image.packed_file is not None \
                or image.is_dirty:
            continue
        path = os.path.normpath(bpy.path.abspath(image.filepath, library=image.library))
        if os.path.normcase(os.path.dirname(path)) == target:
            image.reload()
            count += 1
    return count


def review_strip(scene: Any, shot_strip: Any) -> Any | None:
    """The shot's review strip, or None."""
    return shots.find_strip_by_uid(scene, shot_strip.dacon.review_uid)


def missing_frames(shot_strip: Any, folder: str) -> list[str]:
    """Stems of shot frames that have no ``<stem>.png`` in ``folder``."""
    _start, stems = frame_stems(shot_strip)
    return [s for s in dict.fromkeys(stems) if not os.path.isfile(os.path.join(folder, f"{s}.png"))]
