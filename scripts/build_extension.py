#!/usr/bin/env python3
"""Build the Blender extension zip (add-on + engine client wheel) and validate it.

Usage: python3 scripts/build_extension.py [--out dist] [--blender-ext PATH]

Runs under plain Python 3.11+. Blender's own extension tool (``blender_ext.py``, the code behind
``blender --command extension build``) is taken from a bpy test venv (scripts/setup_bpy_env.sh)
unless --blender-ext names it. Steps: build ``dacon_engine`` as a pure-Python wheel (no
dependencies: Blender unpacks bundled wheels without resolving them), stage the add-on files, the
manifest and the wheel, build the zip, validate it.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "dacon_blender_addon"
MANIFEST = ROOT / "blender_manifest.toml"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
# What the add-on imports from the engine; the wheel must carry these.
CLIENT_MODULES = ("dacon_engine/__init__.py", "dacon_engine/client.py", "dacon_engine/protocol.py")


def find_blender_ext() -> Path:
    """``blender_ext.py`` from the newest bpy venv in the repository."""
    found = sorted(ROOT.glob(".venv-bpy*/lib/python3*/site-packages/bpy/*/scripts/addons_core/"
                             "bl_pkg/cli/blender_ext.py"))
    if not found:
        sys.exit("build_extension: no bpy venv found; run scripts/setup_bpy_env.sh 4.2.23 "
                 "or pass --blender-ext")
    return found[-1]


def _local_setuptools_builds_wheels() -> bool:
    """True when this Python's setuptools can build wheels itself (>= 70.1 needs no 'wheel')."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def build_engine_wheel(dest: Path, work: Path) -> Path:
    """Build ``dacon_engine`` (py3-none-any) from a clean copy of the sources; return the wheel."""
    src = work / "engine-src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "dacon_engine", src / "dacon_engine", ignore=IGNORE)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(src)]
    if _local_setuptools_builds_wheels():
        cmd.insert(4, "--no-build-isolation")  # offline and faster
    subprocess.run(cmd, check=True)
    wheels = list(dest.glob("dacon_engine-*.whl"))
    if len(wheels) != 1 or not wheels[0].name.endswith("-py3-none-any.whl"):
        sys.exit(f"build_extension: expected one pure-Python dacon_engine wheel, got {wheels}")
    with zipfile.ZipFile(wheels[0]) as zf:
        missing = [m for m in CLIENT_MODULES if m not in zf.namelist()]
    if missing:
        sys.exit(f"build_extension: the engine wheel lacks {', '.join(missing)}")
    return wheels[0]


def stage(staging: Path, wheel: Path) -> None:
    """Lay out the extension's source folder: add-on modules, manifest, wheels/."""
    shutil.copytree(ADDON, staging, ignore=IGNORE)
    (staging / "wheels").mkdir()
    shutil.copy2(wheel, staging / "wheels" / wheel.name)
    text = MANIFEST.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^wheels\s*=\s*\[.*?\]", f'wheels = ["./wheels/{wheel.name}"]', text)
    if n != 1:
        sys.exit("build_extension: blender_manifest.toml needs one single-line 'wheels = [...]'")
    (staging / "blender_manifest.toml").write_text(text, encoding="utf-8")


def run_tool(tool: Path, *args: str) -> str:
    """Run ``blender_ext.py`` and return its output (exit on failure)."""
    proc = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "FATAL_ERROR" in out or "Error" in out:
        sys.exit(f"build_extension: blender_ext.py {args[0]} failed:\n{out}")
    return out


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    ap.add_argument("--blender-ext", type=Path, help="path of Blender's blender_ext.py")
    args = ap.parse_args(argv)
    tool = args.blender_ext or find_blender_ext()
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dacon-ext-") as tmp:
        work = Path(tmp)
        wheel = build_engine_wheel(work / "wheels", work)
        staging = work / "dacon_blender_addon"
        stage(staging, wheel)
        run_tool(tool, "validate", str(staging))
        built = run_tool(tool, "build", "--source-dir", str(staging), "--output-dir", str(out_dir))
    match = re.search(r"created:\s*\"?(.+?\.zip)", built)
    zip_path = Path(match.group(1)) if match else out_dir / "dacon_blender_addon-unknown.zip"
    if not zip_path.is_file():
        sys.exit(f"build_extension: no zip found in the tool's output:\n{built}")
    run_tool(tool, "validate", str(zip_path))
    print(zip_path)
    return zip_path


if __name__ == "__main__":
    main()
