"""The extension zip in real Blender: build, validate, install, enable, disable, uninstall."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import bpy

HERE = Path(__file__).resolve().parent
ADDON = HERE.parents[1] / "dacon_blender_addon"
ENGINE_PYTHON = HERE.parents[1] / ".venv" / "bin" / "python"  # the engine venv of scripts/setup_env.sh


def test_zip_layout(extension_zip: Path) -> None:
    with zipfile.ZipFile(extension_zip) as zf:
        names = set(zf.namelist())
        manifest = zf.read("blender_manifest.toml").decode()
    wheels = [n for n in names if n.startswith("wheels/")]
    assert len(wheels) == 1 and wheels[0].endswith("-py3-none-any.whl")
    assert f'wheels = ["./{wheels[0]}"]' in manifest
    assert {"__init__.py", "compat.py", "properties.py", "preferences.py", "panels.py"} <= names
    assert {p.name for p in ADDON.glob("*.py")} <= names  # every add-on module is packed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(extension_zip) as zf, zf.open(wheels[0]) as fh:
        with zipfile.ZipFile(fh) as wheel:
            inner = set(wheel.namelist())
    assert {"dacon_engine/client.py", "dacon_engine/protocol.py"} <= inner


def _import_time_imports(tree: ast.Module) -> set[str]:
    """Top-level names of the modules a module imports when it is imported (function bodies
    and ``if TYPE_CHECKING:`` blocks excluded)."""
    found: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        todo += ast.iter_child_nodes(node)
    return found


def test_addon_never_imports_torch_or_numpy_at_import() -> None:
    """The add-on is a thin layer: torch stays in the engine, numpy inside the functions."""
    heavy = {p.name: _import_time_imports(ast.parse(p.read_text(encoding="utf-8")))
             & {"torch", "numpy"} for p in sorted(ADDON.glob("*.py"))}
    assert {name: found for name, found in heavy.items() if found} == {}


def test_install_enable_disable_uninstall(extension_zip: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "BLENDER_USER_RESOURCES": str(home / "blender")}
    proc = subprocess.run(
        [sys.executable, "-I", str(HERE / "ext_lifecycle.py"), str(extension_zip),
         str(tmp_path / "shot.blend"), str(ENGINE_PYTHON) if ENGINE_PYTHON.is_file() else ""],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("DACON_RESULT "))
    got = json.loads(line.split(" ", 1)[1])
    ext = home / "blender" / "extensions"
    site = ext / ".local" / "lib" / "python{}.{}".format(*sys.version_info[:2]) / "site-packages"

    assert got["sys_path_has_repo"] is False
    assert got["install"] == ["FINISHED"]
    on = {"enabled": True, "panel": True, "strip_prop": True}
    off = {"enabled": False, "panel": False, "strip_prop": False}
    assert got["after_install"] == on
    # the client comes from the bundled wheel, unpacked without its dependencies
    assert got["client_file"] == str(site / "dacon_engine" / "client.py")
    assert got["site_packages"] == ["dacon_engine", "dacon_engine-0.1.0.dist-info"]
    assert got["torch_loaded"] is False
    addon_dir = ext / "user_default" / "dacon_blender_addon"
    assert got["addon_file"] == str(addon_dir / "__init__.py")
    assert got["bundled_wheel"].startswith(str(addon_dir / "wheels" / "dacon_engine-"))
    assert got["prefs"] == {"model": "default", "device": "auto", "formats": ["json", "png"]}
    assert got["user_dir"] == str(ext / ".user" / "user_default" / "dacon_blender_addon")
    assert "online access is off" in got["setup_offline"]
    if ENGINE_PYTHON.is_file():  # Check Engine: the bundled client starts the real engine
        assert got["check_text"].startswith("engine "), got["check_text"]
        assert f"at {ENGINE_PYTHON}" in got["check_text"]
        assert "models ready:" in got["check_text"]
    assert got["make_shot"] == ["FINISHED"]
    assert got["after_disable"] == off
    assert got["after_enable"] == on
    assert got["gap_radius_after_reload"] == 7
    assert got["uninstall"] == ["FINISHED"]
    assert got["after_uninstall"] == off
    assert got["addon_dir_exists"] is False
    assert got["engine_left_in_site_packages"] is False


def _registered() -> dict[str, bool]:
    from dacon_blender_addon import (compat, ops_colorize, ops_shot, panels, preferences,
                                     properties)

    classes = (*properties.CLASSES, *ops_shot.CLASSES, *ops_colorize.CLASSES,
               *preferences.CLASSES, *panels.CLASSES)
    got = {cls.__name__: bool(cls.is_registered) for cls in classes}
    got["strip.dacon"] = "dacon" in compat.strip_type().bl_rna.properties
    got["window_manager.dacon_job"] = "dacon_job" in bpy.types.WindowManager.bl_rna.properties
    assert len(got) >= 24
    return got


def test_addon_unregisters_and_registers_cleanly(addon: object) -> None:
    assert all(_registered().values())
    addon.unregister()  # type: ignore[attr-defined]
    try:
        assert not any(_registered().values())
    finally:
        addon.register()  # type: ignore[attr-defined]
    assert all(_registered().values())
    assert hasattr(bpy.ops.dacon, "reference_add_file")


def test_icons_used_in_draw_code_exist() -> None:
    """Panel draw() cannot run headless; at least every icon name it uses must exist here."""
    import re

    valid = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())
    src = HERE.parents[1] / "dacon_blender_addon"
    used = {m for f in src.glob("*.py") for m in re.findall(r'icon="(\w+)"', f.read_text())}
    assert len(used) >= 10
    assert used <= valid, sorted(used - valid)
