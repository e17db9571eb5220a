"""Thumbnails of reference sheets (``bpy.utils.previews``), keyed by file path and mtime."""

from __future__ import annotations

import os
from typing import Any

import bpy
import bpy.utils.previews

_collection: Any = None


def register() -> None:
    """Create the preview collection."""
    global _collection
    _collection = bpy.utils.previews.new()


def unregister() -> None:
    """Free every thumbnail."""
    global _collection
    if _collection is not None:
        bpy.utils.previews.remove(_collection)
        _collection = None


def thumbnail(path: str) -> Any | None:
    """The preview of image ``path`` (``//`` relative allowed), reloaded when the file changes."""
    if _collection is None or not path:
        return None
    full = os.path.normpath(bpy.path.abspath(path))
    try:
        key = f"{full}:{os.stat(full).st_mtime_ns}"
    except OSError:
        return None
    preview = _collection.get(key)
    if preview is None:
        preview = _collection.load(key, full, "IMAGE")
    return preview


def thumbnail_icon(path: str) -> int:
    """Icon id of the thumbnail of ``path``; 0 when unavailable (always 0 in background mode)."""
    preview = thumbnail(path)
    return 0 if preview is None else int(preview.icon_id)


def count() -> int:
    """How many thumbnails are loaded."""
    return 0 if _collection is None else len(_collection)
