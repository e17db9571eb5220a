"""Process-wide glibc malloc settings, for the command-line and service entry points.

Segmentation allocates and frees full-frame arrays on every frame (a 1920x1920 label map
is 15 MB, OpenCV's labelling adds a few MB of its own). glibc serves such blocks by mmap
or gives them back to the system when freed, so the next frame's arrays pay first-touch
page faults again: about 6500 a frame, 10 ms of an adaptive-mode 1920x1920 frame here.
:func:`keep_freed_memory` keeps blocks of up to 32 MB in the heap and trims the heap only
above 128 MB free, so freed frames are reused. It changes the allocator of the whole
process, so only the entry points call it (``dacon``, ``python -m dacon_engine.jobs.service``),
never the library on import. ``DACON_MALLOC_TUNE=0`` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""Blocks below this come from the heap (glibc's upper limit on 64-bit systems)."""
TRIM_THRESHOLD = 128 << 20
"""Free memory at the heap's top kept before it is given back to the system."""


def keep_freed_memory() -> bool:
    """Apply the settings above on glibc (Linux); True when both were accepted."""
    if os.environ.get("DACON_MALLOC_TUNE", "1") == "0":
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return ok and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
