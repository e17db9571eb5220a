"""Colorize rendered Grease Pencil frames and trace their segments in one blocking engine call.

:func:`run_engine` is the one-call form for scripts; :class:`gp_job.GPJob` sends the same two
requests (``colorize``, then ``trace``) step by step without blocking Blender. The engine runs
in its own interpreter, reached only through ``dacon_engine.client``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import engine
from .gp_frames import GPError


def run_engine(targets: Sequence[str | os.PathLike], references: Sequence[dict],
               out: str | os.PathLike, *, python: str = "", client: Any = None,
               gap_radius: int = 0, epsilon: float = 0.5, timeout: float = 3600.0) -> dict:
    """Colorize ``targets`` (PNG, JSON and EXR) and trace their segments, in the engine.

    Uses ``client`` (a started ``dacon_engine.client.EngineClient``) or starts one with
    ``python`` for this call. Returns {"colorize": result, "trace": result, "seconds": {...}}.
    """
    if not references:
        raise GPError("add a reference sheet first (a frame you filled, or a colored image)")
    own = client is None
    if own:
        if not python:
            raise GPError("no engine interpreter is set (Preferences > Add-ons > DACoN)")
        client = engine.client_module().EngineClient(python)
        client.start()
    try:
        t0 = time.perf_counter()
        result = client.colorize(
            targets=[os.fspath(t) for t in targets],
            references=[{"color": r["color"], "line": r.get("line")} for r in references],
            out=os.fspath(out), formats=("png", "json", "exr"), gap_radius=int(gap_radius),
            overwrite=True).wait(timeout)
        t1 = time.perf_counter()
        traced = client.trace(out, epsilon=epsilon,
                              frames=[Path(t).stem for t in targets]).wait(timeout)
        t2 = time.perf_counter()
    finally:
        if own:
            client.shutdown()
    return {"colorize": result, "trace": traced,
            "seconds": {"colorize": t1 - t0, "trace": t2 - t1}}
