"""Colorize a Grease Pencil object in one call, or remove what that wrote (scripts, tests, UI).

:func:`colorize_object` runs a :class:`gp_job.GPJob` to its end:

1. :mod:`gp_render` renders the object's strokes per frame from the active camera as flat
   black line art (and the hand-filled reference frames in color);
2. the engine (``dacon_engine.client``) colorizes those frames and traces each colored
   segment's outline (:mod:`gp_engine` does the same in one blocking call);
3. :mod:`gp_fills` puts one fill stroke per segment on a "DACoN fills" layer below the lines,
   and/or :mod:`gp_plane` puts the colored frames on an image-sequence plane behind the object.

Re-running replaces the object's previous fills layer and plane, nothing else. Never imports
torch (the engine runs in its own interpreter) nor numpy at module import.
"""

from __future__ import annotations

from typing import Any

from . import gp_job
from .gp_fills import remove_fills
from .gp_frames import GPError
from .gp_plane import remove_plane


def colorize_object(scene: Any, obj: Any, *, python: str = "", client: Any = None,
                    timeout: float = 3600.0) -> dict:
    """Render, colorize and write back one Grease Pencil object, with its ``dacon_gp`` settings.

    Runs :class:`gp_job.GPJob` to its end (everything is checked before the first render;
    without ``client`` the session's engine for ``python`` is used). Returns counts and
    seconds per step (render, colorize, trace, fills, plane); GPError when it failed.
    """
    job = gp_job.start(scene, obj, python=python, client=client).wait(timeout)
    if job.error is not None or job.state != "done":
        raise GPError(job.message)
    return job.report


def clear_results(obj: Any) -> dict[str, bool]:
    """Remove the object's fills layer and plane (the rendered files stay on disk)."""
    return {"fills": remove_fills(obj), "plane": remove_plane(obj)}
