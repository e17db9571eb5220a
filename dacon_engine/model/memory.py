"""Out-of-memory fallback: smaller batches, a coarser pooling grid, then the CPU.

A featurizer that runs out of GPU memory is degraded one step at a time and the work is
retried; :func:`degrade` returns what it changed (for a log line) or None when nothing is
left to try. Featurizers are duck-typed: ``batch_size``, ``pool_cap`` and ``to_device``
are used when present.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

SMALL_POOL_CAP = 256


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a CUDA (or other accelerator) out-of-memory error."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _device_type(featurizer: Any) -> str:
    dev = getattr(featurizer, "device", None)
    return getattr(dev, "type", str(dev or "cpu"))


def degrade(featurizer: Any) -> str | None:
    """Apply the next memory-saving step to ``featurizer``; describe it, or None if none."""
    with contextlib.suppress(Exception):
        torch.cuda.empty_cache()
    if getattr(featurizer, "batch_size", 1) > 1:
        featurizer.batch_size = 1
        return "batch size 1"
    cap = getattr(featurizer, "pool_cap", SMALL_POOL_CAP)
    if cap is None or cap > SMALL_POOL_CAP:
        featurizer.pool_cap = SMALL_POOL_CAP
        return f"pooling grid {SMALL_POOL_CAP}"
    if _device_type(featurizer) != "cpu" and hasattr(featurizer, "to_device"):
        featurizer.to_device("cpu")
        return "the CPU"
    return None


def snapshot(featurizer: Any) -> dict:
    """The settings :func:`degrade` may change, to put back with :func:`restore`."""
    snap: dict = {}
    for attr in ("batch_size", "pool_cap", "device"):
        if hasattr(featurizer, attr):
            snap[attr] = getattr(featurizer, attr)
    return snap


def restore(featurizer: Any, snap: dict) -> None:
    if "device" in snap and hasattr(featurizer, "to_device") \
            and str(getattr(featurizer, "device", "")) != str(snap["device"]):
        featurizer.to_device(snap["device"])
    for attr in ("batch_size", "pool_cap"):
        if attr in snap:
            setattr(featurizer, attr, snap[attr])
