"""scripts/dacon_batch.py with Blender as a Python module and the real engine (.venv, CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import bpy
import pytest
import shot_art
from shot_art import ENGINE_PYTHON, ROOT, read_png

from dacon_blender_addon import compat, results, shots

if not ENGINE_PYTHON.is_file():
    pytest.skip(f"no engine interpreter at {ENGINE_PYTHON} (run scripts/setup_env.sh)",
                allow_module_level=True)

SCRIPT = ROOT / "scripts" / "dacon_batch.py"


def _batch(*args: str, env_python: bool = False, home: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("DACON_ENGINE_PYTHON", None)
    if env_python:
        env["DACON_ENGINE_PYTHON"] = str(ENGINE_PYTHON)
    if home is not None:  # another user's Blender settings
        env.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600, env=env)


def _blend(tmp_path: Path, art: dict[str, Any]) -> Path:
    """shot.blend with two shots: "good" (frames 1..3) and "broken" (its reference is gone)."""
    scene = bpy.context.scene
    coll = compat.ensure_top_strips(scene)
    for name, channel in (("good", 1), ("broken", 4)):
        strip = coll.new_image(name=name, filepath=str(art["line"][0]), channel=channel,
                               frame_start=1)
        for path in art["line"][1:]:
            strip.elements.append(path.name)
        shots.make_shot(strip)
    shots.add_reference(compat.find_strip(scene, "good"), color_path=str(art["ref"]),
                        line_path=str(art["ref_line"]))
    shots.add_reference(compat.find_strip(scene, "broken"),
                        color_path=str(tmp_path / "gone" / "ref.png"))
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return blend


def test_batch_colorizes_a_shot_and_reports_a_broken_one(addon: Any, tmp_path: Path) -> None:
    art = shot_art.make_art(tmp_path / "art", frames=3)
    blend = _blend(tmp_path, art)

    proc = _batch(str(blend), "--shot", "good", "--python", str(ENGINE_PYTHON))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("dacon: add-on dacon_blender_addon") for line in lines)
    assert "dacon: good: 3/3 frames" in lines
    assert any(line.startswith("dacon: good: colorized 3 frames") for line in lines)
    assert f"dacon: saved {blend}" in lines
    out = tmp_path / "dacon" / "good"
    assert sorted(p.name for p in out.glob("*.png")) == [f"line_{k:04d}.png" for k in (1, 2, 3)]
    p = shot_art.points(1)
    assert tuple(read_png(out / "line_0001.png")[p["left"]][:3]) == shot_art.LEFT
    assert not (tmp_path / "dacon" / "broken").exists()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    good = compat.find_strip(scene, "good")
    result = results.result_strip(scene, good)
    assert result is not None and compat.strip_range(result) == (1, 4)

    # Every shot, resuming: "good" keeps its frames, "broken" fails with the engine's message.
    proc = _batch(str(blend), "--resume", env_python=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dacon: good: colorized 0 frames (kept 3)" in proc.stdout, proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dacon: error:")]
    assert errors[0].startswith("dacon: error: broken: ") and "gone" in errors[0], proc.stderr
    assert errors[-1] == "dacon: error: 1 of 2 shots failed"

    proc = _batch(str(blend), "--shot", "nope")
    assert proc.returncode == 1
    assert "no shot named 'nope'" in proc.stderr and "shots: broken, good" in proc.stderr


NO_PREFS = bpy.app.version < (4, 5, 0)  # wm.read_userpref segfaults in the 4.2 module
NO_ENGINE = (
    f"dacon: error: no engine interpreter: bpy {bpy.app.version_string} as a module cannot read "
    "Blender's preferences (it crashes there), so pass --python ENGINE_PYTHON or set "
    "$DACON_ENGINE_PYTHON" if NO_PREFS else
    "dacon: error: no engine interpreter: pass --python ENGINE_PYTHON, set Engine Python "
    "in the add-on's preferences, or set $DACON_ENGINE_PYTHON")
SET_PREFS = """
import sys, bpy
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default",
                                         enable_on_install=True)
name = next(k for k in bpy.context.preferences.addons.keys() if k.endswith("dacon_blender_addon"))
bpy.context.preferences.addons[name].preferences.python = sys.argv[2]
bpy.ops.wm.save_userpref()
"""


def test_batch_in_the_bpy_module_uses_the_engine_python_preference(
        addon: Any, tmp_path: Path, extension_zip: Path) -> None:
    art = shot_art.make_art(tmp_path / "art", frames=3)
    blend = _blend(tmp_path, art)
    bare = tmp_path / "bare-home"
    bare.mkdir()
    proc = _batch(str(blend), "--shot", "good", home=bare)  # no interpreter anywhere
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == NO_ENGINE
    assert "(engine: )" not in proc.stdout and "colorizing" not in proc.stdout
    proc = _batch(str(blend), "--python", str(tmp_path / "nope"), home=bare)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == \
        f"dacon: error: {tmp_path / 'nope'}: no such engine interpreter (from --python)"

    # a user whose installed extension has Engine Python set, as Blender saved it
    home = tmp_path / "user-home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
    env.pop("DACON_ENGINE_PYTHON", None)
    subprocess.run([sys.executable, "-c", SET_PREFS, str(extension_zip), str(ENGINE_PYTHON)],
                   check=True, capture_output=True, env=env, timeout=300)
    proc = _batch(str(blend), "--shot", "good", "--no-save", home=home)
    if NO_PREFS:  # the 4.2 module crashes reading preferences: it says so instead
        assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == NO_ENGINE
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("dacon: add-on bl_ext.user_default.dacon_blender_addon ")
               for line in lines)
    assert f"dacon: engine: {ENGINE_PYTHON} (from the add-on preferences' Engine Python)" in lines
    assert any(line.startswith("dacon: good: colorized 3 frames") for line in lines)
    proc = _batch(str(blend), "--shot", "good", "--no-save", "--factory-prefs", home=home)
    assert proc.returncode == 1 and "no engine interpreter" in proc.stderr
