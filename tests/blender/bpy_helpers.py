"""Helpers shared by the add-on tests (imported only where bpy exists)."""

from __future__ import annotations

from pathlib import Path


def write_png(path: Path, rgba: tuple[float, float, float, float], size: int = 8) -> Path:
    """Write a ``size``² PNG of one color through Blender's own image code."""
    import bpy

    path.parent.mkdir(parents=True, exist_ok=True)
    img = bpy.data.images.new(path.stem, size, size, alpha=True)
    img.pixels[:] = list(rgba) * (size * size)
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return path
