"""Install, enable, disable, re-enable and uninstall the extension zip in a fresh Blender.

Run by test_blender_extension.py as ``python ext_lifecycle.py ZIP BLEND [ENGINE_PYTHON]`` in a
child process with an isolated HOME and without the source tree on sys.path, so ``dacon_engine``
can only come from the wheel bundled in the zip. Prints the observations as one "DACON_RESULT <json>" line.
"""

from __future__ import annotations

import json
import os
import sys

import bpy

PKG = "dacon_blender_addon"
MOD = f"bl_ext.user_default.{PKG}"


def strip_type() -> type:
    return getattr(bpy.types, "Strip", None) or bpy.types.Sequence


def state() -> dict[str, object]:
    return {
        "enabled": MOD in bpy.context.preferences.addons,
        "panel": hasattr(bpy.types, "DACON_PT_shot"),
        "strip_prop": "dacon" in strip_type().bl_rna.properties,
    }


def main(zip_path: str, blend: str, engine_python: str = "") -> dict[str, object]:
    out: dict[str, object] = {"sys_path_has_repo": any(
        os.path.isdir(os.path.join(p, PKG)) for p in sys.path if p)}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    out["install"] = sorted(bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True))
    out["after_install"] = state()
    import dacon_engine
    import dacon_engine.client

    out["engine_file"] = dacon_engine.__file__
    out["client_file"] = dacon_engine.client.__file__
    out["torch_loaded"] = "torch" in sys.modules
    site = os.path.dirname(os.path.dirname(dacon_engine.__file__))
    out["site_packages"] = sorted(os.listdir(site))
    addon = sys.modules[MOD]
    out["addon_file"] = addon.__file__
    wheel = sys.modules[MOD + ".engine_setup"].bundled_engine_wheel()
    out["bundled_wheel"] = None if wheel is None else str(wheel)
    prefs_mod = sys.modules[MOD + ".preferences"]
    prefs = prefs_mod.get_preferences()
    out["prefs"] = None if prefs is None else {"model": prefs.model, "device": prefs.device,
                                                "formats": sorted(prefs.default_formats)}
    out["user_dir"] = prefs_mod.user_dir()
    out["online_access"] = bool(bpy.app.online_access)
    try:
        bpy.ops.dacon.setup_engine()
        out["setup_offline"] = "ran"
    except RuntimeError as ex:
        out["setup_offline"] = str(ex)
    if engine_python:
        prefs.python = engine_python
        bpy.ops.dacon.check_engine()
        prefs_mod.state.check.wait(timeout=120)
        prefs_mod._check_timer()  # what the UI timer does once the report is in
        out["check_text"] = prefs_mod.state.check_text

    scene = bpy.context.scene
    scene.sequence_editor_create()
    editor = scene.sequence_editor
    coll = editor.strips if hasattr(editor, "strips") else editor.sequences
    strip = coll.new_image(name="line", filepath=zip_path, channel=1, frame_start=1)
    editor.active_strip = strip
    out["make_shot"] = sorted(bpy.ops.dacon.make_shot())
    strip.dacon.gap_radius = 7
    bpy.ops.wm.save_as_mainfile(filepath=blend)

    bpy.ops.preferences.addon_disable(module=MOD)
    out["after_disable"] = state()
    bpy.ops.preferences.addon_enable(module=MOD)
    out["after_enable"] = state()
    bpy.ops.wm.open_mainfile(filepath=blend)
    editor = bpy.context.scene.sequence_editor
    coll = editor.strips if hasattr(editor, "strips") else editor.sequences
    out["gap_radius_after_reload"] = coll["line"].dacon.gap_radius

    repos = [r.module for r in bpy.context.preferences.extensions.repos]
    out["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(
        repo_index=repos.index("user_default"), pkg_id=PKG))
    out["after_uninstall"] = state()
    out["addon_dir_exists"] = os.path.exists(os.path.dirname(str(addon.__file__)))
    out["engine_left_in_site_packages"] = os.path.exists(os.path.dirname(dacon_engine.__file__))
    return out


if __name__ == "__main__":
    result = main(*sys.argv[1:4])
    print("DACON_RESULT " + json.dumps(result), flush=True)
