"""DACoN for Blender: paint-bucket colorization of line-art strips in the sequence editor.

The add-on never imports torch: it talks to the engine (a separate Python with torch) only
through ``dacon_engine.client``, bundled in the extension as a pure-Python wheel. numpy is
imported only inside the Grease Pencil functions that use it, never at module import.
"""

from __future__ import annotations

from . import engine, ops_colorize, ops_gpencil, ops_shot, panels, preferences, previews, properties

_MODULES = (properties, previews, preferences, ops_shot, ops_colorize, ops_gpencil, panels)


def register() -> None:
    """Register every module, in dependency order."""
    for module in _MODULES:
        module.register()


def unregister() -> None:
    """Stop the engine and unregister in reverse order (shot data stays in .blend files)."""
    engine.stop_all()
    for module in reversed(_MODULES):
        module.unregister()
