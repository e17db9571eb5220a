"""Color management that keeps the engine's flat colors.

The engine writes sRGB PNGs whose palette values a studio composites as they are. A
sequencer render shows them unchanged only when every step between the strip and the
output file is the identity: the strip read as sRGB, the sequencer working in sRGB, and a
Standard view (no look, exposure 0, gamma 1, no curves, no white balance) on an sRGB
display, also in the output's own color-management override. A new scene uses AgX, which
tone-maps flat colors (skin 251,218,209 renders 195,184,180). :func:`problems` names each
setting that would alter them; :func:`keep_flat_colors` sets them (colorize does it when
the scene's "Keep Flat Colors" is on).
"""

from __future__ import annotations

from typing import Any

SRGB = "sRGB"
NO_ALPHA_FORMATS = {"JPEG", "JPEG2000", "BMP", "IRIS", "CINEON", "DPX", "HDR", "FFMPEG"}


# (attribute path under the scene's view or display settings, the value that keeps flat
# colors, its name in messages); checked and set for the scene and the output's override
_VIEW = (
    ("display_settings.display_device", SRGB, "display device"),  # views depend on it: first
    ("view_settings.view_transform", "Standard", "view transform"),
    ("view_settings.look", "None", "look"),
    ("view_settings.exposure", 0.0, "exposure"),
    ("view_settings.gamma", 1.0, "gamma"),
    ("view_settings.use_curve_mapping", False, "curves"),
    ("view_settings.use_white_balance", False, "white balance"),  # 5.x only
)


def _settings(scene: Any) -> list[tuple[Any, str, Any, str]]:
    """Every (owner, attribute, wanted value, name) that must hold for flat colors."""
    out = []
    image = scene.render.image_settings
    owners = [(scene, "")]
    if image.color_management == "OVERRIDE":
        owners.append((image, "output override: "))
    for base, where in owners:
        for path, wanted, name in _VIEW:
            group, attr = path.split(".")
            owner = getattr(base, group)
            if hasattr(owner, attr):
                out.append((owner, attr, wanted, where + name))
    out.append((scene.sequencer_colorspace_settings, "name", SRGB, "sequencer color space"))
    out.append((scene.render, "use_sequencer", True, "sequencer in the render"))
    return out


def _shown(value: Any, quote: bool = True) -> str:
    """A setting's value in words: on/off, 0.5, 'AgX' (AgX unquoted)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return f"'{value}'" if quote else str(value)


def problems(scene: Any) -> list[str]:
    """What in ``scene``'s color management would alter the engine's colors in a render."""
    return [f"{name} {_shown(getattr(owner, attr))} alters flat colors ({_shown(wanted)} "
            "keeps them)" for owner, attr, wanted, name in _settings(scene)
            if getattr(owner, attr) != wanted]


def keep_flat_colors(scene: Any) -> list[str]:
    """Set what :func:`problems` names; the changes made, in words ("view transform AgX ->
    Standard")."""
    changed = []
    for owner, attr, wanted, name in _settings(scene):
        old = getattr(owner, attr)
        if old != wanted:
            setattr(owner, attr, wanted)
            changed.append(f"{name} {_shown(old, False)} -> {_shown(wanted, False)}")
    return changed


def keep_if_wanted(scene: Any) -> list[str]:
    """:func:`keep_flat_colors` when the scene's "Keep Flat Colors" is on (the default)."""
    if not getattr(scene, "dacon_keep_flat_colors", True):
        return []
    return keep_flat_colors(scene)


def output_has_alpha(scene: Any) -> bool:
    """Whether the render output keeps transparency (RGBA in a format that has alpha)."""
    image = scene.render.image_settings
    return image.color_mode == "RGBA" and image.file_format not in NO_ALPHA_FORMATS
