"""Procedural anime-like character line art with known segment correspondence.

See :mod:`dacon_engine.synth.render` for frames/clips/pairs and
:mod:`dacon_engine.synth.dataset` for writing the PaintBucket layout.
"""

from .character import (PARTS, CharacterSpec, Pose, generate_character, part_id, part_of_id,
                        perturb_pose, random_pose)
from .render import (BACKGROUND_RGBA, LINE_RGBA, Clip, SynthFrame, make_clip, make_pair,
                     render_frame, render_sheet)

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
