"""Procedural anime-like character line art with known segment correspondence.

Characters (:class:`CharacterSpec`) are parametric: a skeleton (neck, head, shoulders,
elbows, hands, hips, ankles) with parts (hair, face, eyes, clothes, arms, props...) defined
relative to it, plus a color design (material -> base/shadow/highlight/deep-shadow RGB).
A :class:`Pose` re-poses and re-frames a character, so any two renders of one character
correspond by COLOR, as in PaintBucket: same subregion -> same RGBA in every frame.

Conventions of a :class:`SynthFrame`:

* ``line``: black [0,0,0,255] lines (1-4 px, no antialiasing) that close every region;
  shading boundaries as pure red (highlight), blue (shadow) or green (deep shadow) 1-px
  lines; paper transparent (255,255,255,0) or opaque white.
* ``gt``: flat colors; black lines exactly where the line art is black; background
  [0,0,0,0]. A color-line pixel gets the color of the segment
  :func:`dacon_engine.segmentation.segments.segment_line_art` merges it into (so every segment of the
  line art is single-colored in gt; a color line that touches < 2 regions becomes its own
  segment and keeps the color of the subregion it was drawn in).
* ``part_map``: int32 part/tone id per pixel (0 line, 1 background; see ``part_of_id``).

Main entry points: :func:`generate_character`, :func:`render_frame`, :func:`make_clip`,
:func:`make_pair` (training), :func:`write_clip` / :func:`synth_command` (dataset layout).
"""

from .character import (
    PARTS,
    CharacterSpec,
    Pose,
    generate_character,
    part_id,
    part_of_id,
    perturb_pose,
    random_pose,
)
from .render import (
    BACKGROUND_RGBA,
    LINE_RGBA,
    Clip,
    SynthFrame,
    make_clip,
    make_pair,
    render_frame,
    render_sheet,
)

__all__ = [
    "PARTS", "CharacterSpec", "Pose", "generate_character", "part_id", "part_of_id",
    "perturb_pose", "random_pose", "BACKGROUND_RGBA", "LINE_RGBA", "Clip", "SynthFrame",
    "make_clip", "make_pair", "render_frame", "render_sheet", "write_clip", "synth_command",
]


def write_clip(clip, out_dir, **kw):
    from .dataset import write_clip as _w

    return _w(clip, out_dir, **kw)


def synth_command(out_dir, clips=10, seed=0, size=512, frames=8, regime="both", **kw):
    from .dataset import synth_command as _s

    return _s(out_dir, clips=clips, seed=seed, size=size, frames=frames, regime=regime, **kw)
