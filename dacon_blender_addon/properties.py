"""Per-shot settings, stored on the line-art image strip itself.

A ``PointerProperty`` named ``dacon`` is registered on the strip RNA type (``Strip`` in 5.x,
``Sequence`` in 4.2), so the settings are saved in the .blend with the strip and follow it through
renames, moves (channel, frame, into meta strips) and reloads without any name-based bookkeeping.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat

MODES = (
    ("keyframe", "Keyframe", "Every frame is matched against the reference sheets only"),
    ("consecutive", "Consecutive", "Each frame also uses the previous colorized frame"),
    ("nearest", "Nearest", "Each frame uses the nearest reference sheet in time"),
)
FORMATS = (
    ("png", "PNG", "Colored frames as PNG images"),
    ("json", "JSON", "Per-frame segment records (colors, confidence)"),
    ("exr", "EXR", "Multichannel EXR (color, segment ids, confidence)"),
)
DEFAULT_FORMATS = {"png", "json"}
PAPERS = (
    ("WHITE", "White", "Line art drawn on transparent paper renders on white"),
    ("COLOR", "Color", "Line art drawn on transparent paper renders on the paper color"),
    ("TRANSPARENT", "Transparent Film", "The colored frames render over whatever is under the "
     "shot, transparent where the paper is (RGBA output keeps it; RGB output shows black)"),
)
SOURCES = (
    ("FILE", "File", "A colored image file"),
    ("STRIP", "Strip", "A frame of an image strip in this scene"),
)


class DaconReference(bpy.types.PropertyGroup):
    """One reference sheet: a colored image (file or strip frame) with optional line art."""

    source: bpy.props.EnumProperty(name="Source", items=SOURCES, default="FILE")  # type: ignore[valid-type]
    color_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Colored Image", subtype="FILE_PATH", options=compat.path_options(),
        description="Colored reference image; for a strip source, the file last resolved from it")
    line_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Line Art", subtype="FILE_PATH", options=compat.path_options(),
        description="Optional line art of the reference (otherwise taken from the colored image)")
    strip_uid: bpy.props.StringProperty(name="Strip ID", options={"HIDDEN"})  # type: ignore[valid-type]
    strip_name: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Strip", description="Image strip holding the colored reference (name when assigned)")
    frame: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Frame", description="Scene frame of the strip to use as the reference")


def _paper_changed(self: Any, context: Any) -> None:
    from . import results, shots

    scene = self.id_data
    for strip in shots.shots(scene):
        if strip.dacon == self:
            results.apply_paper(scene, strip)


class DaconShot(bpy.types.PropertyGroup):
    """Colorization settings of one shot (a line-art image strip)."""

    is_shot: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="DACoN Shot", description="This strip is line art to colorize")
    uid: bpy.props.StringProperty(name="ID", options={"HIDDEN"})  # type: ignore[valid-type]
    references: bpy.props.CollectionProperty(type=DaconReference)  # type: ignore[valid-type]
    active_reference: bpy.props.IntProperty(name="Active Reference", min=0)  # type: ignore[valid-type]
    mode: bpy.props.EnumProperty(name="Mode", items=MODES, default="keyframe")  # type: ignore[valid-type]
    # Matching options (engine ``graph_refine`` / ``mirror``). Both on by default: a shot saved
    # before they existed reads the defaults, i.e. what the engine does when they are unset.
    graph_refine: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Use Neighboring Regions", default=True,
        description="Check each region's color against the regions around it: regions that "
                    "touch in the frame take colors of regions that touch in the reference "
                    "sheets, which fixes stray wrong fills (a bit of ribbon in the hair color). "
                    "Off: every region is matched on its own")
    mirror: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Match Mirrored Poses", default=True,
        description="Also compare each frame with the reference sheets flipped left-right, and "
                    "use the flipped sheets where they fit the frame clearly better (a character "
                    "turned the other way than on the sheets). Off: sheets only as drawn")
    closeup_views: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Close-up Views", default="OFF",
        items=[("OFF", "Off", "Reference sheets only as drawn"),
               ("2", "2x", "Also see each sheet magnified 2x (for bust shots of a "
                           "full-figure sheet)"),
               ("2,3", "2x and 3x", "Also see each sheet magnified 2x and 3x (for close-ups)")],
        description="For shots closer than the reference sheets (a full-figure sheet coloring "
                    "a bust shot or a close-up): the engine also sees each sheet magnified, "
                    "its lines redrawn at the sheet's pen width, and uses that for the frames "
                    "it fits clearly better. Adds a few seconds per sheet")
    learn_character: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Learn This Character", default=False,
        description="Experimental. Before coloring, train the model briefly on pairs made "
                    "from this shot's reference sheets alone (warped, seen closer, redrawn), "
                    "and keep what it learned only where it beats the shipped model on "
                    "held-out pairs. Takes up to the time below once per set of sheets; later "
                    "runs reuse it")
    adapt_seconds: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Learning Seconds", min=1.0, max=3600.0, soft_max=300.0, default=60.0,
        description="Time budget of Learn This Character, in seconds (a GPU needs far less "
                    "than a CPU)")
    gap_radius: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Gap Radius", min=0, soft_max=8, max=64, default=0,
        description="Close gaps in the line art up to this many pixels")
    formats: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Formats", items=FORMATS, options={"ENUM_FLAG"}, default=DEFAULT_FORMATS)
    output_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Folder", subtype="DIR_PATH", options=compat.path_options(),
        description="Where colored frames go; '//' is the .blend's folder. Empty: //dacon/<strip name>/")
    palette: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Palette", subtype="FILE_PATH", options=compat.path_options(),
        description="GIMP .gpl or JSON palette: fills snap to its exact colors and are named "
                    "in the EXR's Cryptomatte. Empty: no palette")
    palette_datablock: bpy.props.PointerProperty(  # type: ignore[valid-type]
        type=bpy.types.Palette, name="Blender Palette",
        description="A Blender palette to use instead of the palette file: written as "
                    "palette_<name>.gpl into the output folder, colors named color_01, "
                    "color_02, ... (or by the palette's 'dacon_names' list)")
    result_uid: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Result Strip ID", options={"HIDDEN"},
        description="Stored id of the strip showing the colored frames (kept through re-runs)")
    review_uid: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Review Strip ID", options={"HIDDEN"},
        description="Stored id of the strip showing low-confidence highlights")
    paper: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Paper", items=PAPERS, default="WHITE", update=_paper_changed,
        description="What shows where line art drawn on transparent paper has no paint "
                    "(line art on opaque paper covers everything and ignores it)")
    paper_color: bpy.props.FloatVectorProperty(  # type: ignore[valid-type]
        name="Paper Color", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0,
        default=(1.0, 1.0, 1.0), update=_paper_changed,
        description="The paper color of line art drawn on transparent paper")
    paper_uid: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Paper Strip ID", options={"HIDDEN"},
        description="Stored id of the color strip under the result (transparent paper art)")
    transparent_paper: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Transparent Paper", options={"HIDDEN"},
        description="The engine found the line art's paper transparent (its record)")
    line_art_muted: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Line Art Muted", options={"HIDDEN"},
        description="The add-on muted this line art under a transparent-film result")
    review_threshold: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Review Threshold", min=0.0, max=1.0, default=0.5, subtype="FACTOR",
        description="Segments whose match confidence is below this are highlighted by Review")


class DaconJobStatus(bpy.types.PropertyGroup):
    """The running engine job, for the panel and status bar (window manager: never saved)."""

    kind: bpy.props.StringProperty(name="Job")  # type: ignore[valid-type]
    shot: bpy.props.StringProperty(name="Shot")  # type: ignore[valid-type]
    state: bpy.props.StringProperty(name="State")  # type: ignore[valid-type]
    running: bpy.props.BoolProperty(name="Running")  # type: ignore[valid-type]
    done: bpy.props.IntProperty(name="Frames Done")  # type: ignore[valid-type]
    total: bpy.props.IntProperty(name="Frames")  # type: ignore[valid-type]
    progress: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    message: bpy.props.StringProperty(name="Message")  # type: ignore[valid-type]


CLASSES = (DaconReference, DaconShot, DaconJobStatus)


def register() -> None:
    """Register the property groups and attach ``dacon`` to the strip type."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    compat.strip_type().dacon = bpy.props.PointerProperty(type=DaconShot)  # type: ignore[func-returns-value]
    scene_type: Any = bpy.types.Scene
    scene_type.dacon_keep_flat_colors = bpy.props.BoolProperty(  # type: ignore[func-returns-value]
        name="Keep Flat Colors", default=True,
        description="Colorize sets this scene's color management so renders show the "
                    "engine's colors unchanged: Standard view, no look, exposure 0, gamma 1, "
                    "no curves, sRGB display and sequencer (also in the output's override)")
    wm_type: Any = bpy.types.WindowManager
    wm_type.dacon_job = bpy.props.PointerProperty(type=DaconJobStatus)  # type: ignore[func-returns-value]


def unregister() -> None:
    """Detach ``dacon`` from the strip type and unregister (stored data stays in .blend files)."""
    for owner, name in ((compat.strip_type(), "dacon"), (bpy.types.WindowManager, "dacon_job"),
                        (bpy.types.Scene, "dacon_keep_flat_colors")):
        try:
            delattr(owner, name)
        except AttributeError:
            pass
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
