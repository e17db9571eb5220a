"""An "Engine Python" that runs the stand-in engine tests/support/fake_engine.py (slow frames, cancels,
deaths without torch); FAKE_* settings as documented there."""

from __future__ import annotations

import sys
from pathlib import Path

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_engine.py"


def fake_python(folder: Path, **env: str) -> str:
    """A script to use as the engine interpreter: the fake engine with these settings."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "fake-python"
    exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    script.write_text(f"#!/bin/sh\n{exports}exec '{sys.executable}' '{FAKE}' \"$@\"\n")
    script.chmod(0o755)
    return str(script)
