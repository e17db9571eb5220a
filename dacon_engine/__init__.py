"""DACoN paint-bucket colorization engine (no Blender imports).

Data flows one way: line art -> segments -> features -> matching -> outputs.
``from dacon_engine import Colorizer, ColorizeOptions`` (Colorizer is imported on first
use, so ``dacon_engine.client`` and ``dacon_engine.options`` stay free of torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["ColorizeOptions", "Colorizer", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Colorizer":
        from .colorizer import Colorizer

        return Colorizer
    if name == "ColorizeOptions":
        from .options import ColorizeOptions

        return ColorizeOptions
    raise AttributeError(f"module 'dacon_engine' has no attribute {name!r}")
