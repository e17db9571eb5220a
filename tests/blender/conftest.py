"""Fixtures for the add-on tests, run in real Blender (the PyPI ``bpy`` module).

Collected only where ``bpy`` imports (the .venv-bpy* venvs made by scripts/setup_bpy_env.sh);
the engine's .venv skips this folder. Blender's user folders point at a scratch HOME, so the
tests never read or write a real Blender configuration.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bpy_helpers import write_png

ROOT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("bpy") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    _home = tempfile.mkdtemp(prefix="dacon-bpy-home-")
    os.environ["HOME"] = _home
    os.environ["BLENDER_USER_RESOURCES"] = os.path.join(_home, "blender")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import bpy  # noqa: E402  (after the environment is isolated)

    def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
        """Blender deprecations hit in the add-on's own code fail the test (API drift alarm)."""
        for item in items:
            item.add_marker(pytest.mark.filterwarnings(
                "error::DeprecationWarning:dacon_blender_addon"))

    @pytest.fixture(autouse=True)
    def factory_startup() -> None:
        """Every test starts from Blender's empty factory startup."""
        bpy.ops.wm.read_factory_settings(use_empty=True)

    @pytest.fixture(scope="session")
    def addon() -> Any:
        """The add-on imported from the source tree and registered for the whole session."""
        import dacon_blender_addon

        dacon_blender_addon.register()
        yield dacon_blender_addon
        dacon_blender_addon.unregister()


@pytest.fixture
def frames(tmp_path: Path) -> list[Path]:
    """Three line-art frames line_0001..0003.png in ``tmp_path/line``."""
    return [write_png(tmp_path / "line" / f"line_{i:04d}.png", (0.1 * i, 0, 0, 1))
            for i in range(1, 4)]


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension zip, built and validated by scripts/build_extension.py.

    scripts/test.sh builds it once and passes it in ``DACON_EXTENSION_ZIP``.
    """
    prebuilt = os.environ.get("DACON_EXTENSION_ZIP")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"),
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])
