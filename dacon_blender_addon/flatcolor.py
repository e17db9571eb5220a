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


def _view_problems(view: Any, display: Any, where: str) -> list[str]:
    out = []
    if view.view_transform != "Standard":
        out.append(f"{where}view transform '{view.view_transform}' alters flat colors "
                   "(Standard keeps them)")
    if view.look not in ("None", ""):
        out.append(f"{where}look '{view.look}' alters flat colors")
    if abs(view.exposure) > 1e-6:
        out.append(f"{where}exposure {view.exposure:g} alters flat colors")
    if abs(view.gamma - 1.0) > 1e-6:
        out.append(f"{where}gamma {view.gamma:g} alters flat colors")
    if view.use_curve_mapping:
        out.append(f"{where}curves alter flat colors")
    if getattr(view, "use_white_balance", False):
        out.append(f"{where}white balance alters flat colors")
    if display.display_device != SRGB:
        out.append(f"{where}display device '{display.display_device}' re-encodes flat colors "
                   "(sRGB keeps them)")
    return out


def problems(scene: Any) -> list[str]:
    """What in ``scene``'s color management would alter the engine's colors in a render."""
    out = _view_problems(scene.view_settings, scene.display_settings, "")
    space = scene.sequencer_colorspace_settings.name
    if space != SRGB:
        out.append(f"sequencer color space '{space}' shifts flat colors by a level (sRGB "
                   "keeps them)")
    image = scene.render.image_settings
    if image.color_management == "OVERRIDE":
        out += _view_problems(image.view_settings, image.display_settings, "output override: ")
    if not scene.render.use_sequencer:
        out.append("the render leaves the sequencer out (Post Processing > Sequencer)")
    return out


def _set_view(view: Any, display: Any, where: str) -> list[str]:
    changed = []

    def put(owner: Any, attr: str, value: Any, label: str) -> None:
        old = getattr(owner, attr)
        if old != value:
            setattr(owner, attr, value)
            changed.append(f"{where}{label} {old} -> {value}")

    put(display, "display_device", SRGB, "display device")
    put(view, "view_transform", "Standard", "view transform")
    put(view, "look", "None", "look")
    put(view, "exposure", 0.0, "exposure")
    put(view, "gamma", 1.0, "gamma")
    put(view, "use_curve_mapping", False, "curves")
    if hasattr(view, "use_white_balance"):
        put(view, "use_white_balance", False, "white balance")
    return changed


def keep_flat_colors(scene: Any) -> list[str]:
    """Set what :func:`problems` names; the changes made, in words ("view transform AgX ->
    Standard")."""
    changed = _set_view(scene.view_settings, scene.display_settings, "")
    if scene.sequencer_colorspace_settings.name != SRGB:
        old = scene.sequencer_colorspace_settings.name
        scene.sequencer_colorspace_settings.name = SRGB
        changed.append(f"sequencer color space {old} -> {SRGB}")
    image = scene.render.image_settings
    if image.color_management == "OVERRIDE":
        changed += _set_view(image.view_settings, image.display_settings, "output override: ")
    if not scene.render.use_sequencer:
        scene.render.use_sequencer = True
        changed.append("render sequencer off -> on")
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
