"""Colorize the DACoN shots of a .blend without the UI (farm nodes, scripts, CI).

In Blender:
    blender -b shot.blend -P scripts/dacon_batch.py -- [--shot NAME] [--frames A-B] [--resume]
                                                       [--python ENGINE_PYTHON] [--no-save]
With Blender as a Python module (PyPI ``bpy``):
    python scripts/dacon_batch.py shot.blend [the same options]
(the module does not read Blender's user preferences by itself: this script reads them, so
the installed extension and its Engine Python are used as in Blender; ``--factory-prefs``
skips them).

Every shot (a line-art strip made a DACoN shot, in any scene) is colorized in turn, or only
``--shot NAME``; its result strip is added or updated and the .blend saved (``--no-save``
leaves it alone). Progress lines go to stdout; a failure prints ``dacon: error: ...`` with
the engine's message to stderr, the other shots still run, and the exit status is 1.

The add-on is the enabled/installed extension when there is one, else the copy beside this
script. The engine interpreter is ``--python``, else the add-on preferences' Engine Python,
else ``$DACON_ENGINE_PYTHON``, else the venv made by "Set Up Engine"; with none of them, or
one that does not exist, the script stops before any shot with one line saying so.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType
from typing import Any

ADDON = "dacon_blender_addon"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def say(line: str) -> None:
    print(f"dacon: {line}", flush=True)


def fail(line: str) -> None:
    print(f"dacon: error: {line}", file=sys.stderr, flush=True)


def parse_args(in_blender: bool, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="blender -b FILE.blend -P dacon_batch.py --" if in_blender else "dacon_batch.py",
        description="Colorize the DACoN shots of a .blend file.")
    if not in_blender:
        p.add_argument("blend", help=".blend file with DACoN shots")
    p.add_argument("--shot", help="only this shot (the line-art strip's name)")
    p.add_argument("--frames", help="only these line-art frame numbers, e.g. 101-148 or 1-10,20")
    p.add_argument("--resume", action="store_true",
                   help="keep frames whose outputs are complete (otherwise they are replaced)")
    p.add_argument("--python", help="engine interpreter (a Python with dacon_engine and torch)")
    p.add_argument("--no-save", action="store_true", help="do not save the .blend afterwards")
    p.add_argument("--timeout", type=float, default=None, help="seconds per shot (default: none)")
    if not in_blender:
        p.add_argument("--factory-prefs", action="store_true",
                       help="do not read Blender's user preferences (installed extension, "
                            "its Engine Python)")
    return p.parse_args(argv)


def userpref_read_crashes(bpy: Any) -> bool:
    """bpy 4.2 as a module segfaults in ``wm.read_userpref`` (4.5 and 5.x do not)."""
    return not bpy.app.binary_path and tuple(bpy.app.version) < (4, 5, 0)


def engine_interpreter(addon: ModuleType, args: argparse.Namespace) -> tuple[str, str] | None:
    """The engine interpreter and where it came from; None (after one error line) when none
    is set or it is not a file."""
    prefs_mod = importlib.import_module(addon.__name__ + ".preferences")
    if args.python:
        python, source = args.python, "--python"
    else:
        python, source = prefs_mod.engine_python_source(prefs_mod.get_preferences())
    if not python:
        import bpy

        if userpref_read_crashes(bpy) and not args.factory_prefs:
            fail(f"no engine interpreter: bpy {bpy.app.version_string} as a module cannot read "
                 "Blender's preferences (it crashes there), so pass --python ENGINE_PYTHON or "
                 f"set ${prefs_mod.ENV_PYTHON}")
        else:
            fail("no engine interpreter: pass --python ENGINE_PYTHON, set Engine Python in "
                 f"the add-on's preferences, or set ${prefs_mod.ENV_PYTHON}")
        return None
    if not os.path.isfile(python):
        fail(f"{python}: no such engine interpreter (from {source})")
        return None
    return python, source


def find_addon(bpy: Any) -> tuple[ModuleType, bool]:
    """The add-on package: enabled, else an installed extension (enabled now), else the repo's.

    The flag is True when this script registered the repo copy itself (and must unregister it:
    the bpy module crashes at exit with add-on preferences left registered).
    """
    for name in bpy.context.preferences.addons.keys():
        if name == ADDON or name.endswith("." + ADDON):
            return importlib.import_module(name), False
    import addon_utils

    for mod in addon_utils.modules():
        if mod.__name__.endswith("." + ADDON) or mod.__name__ == ADDON:
            if addon_utils.enable(mod.__name__, default_set=False) is not None:
                return importlib.import_module(mod.__name__), False
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    module = importlib.import_module(ADDON)
    module.register()
    return module, True


def run(bpy: Any, args: argparse.Namespace) -> int:
    addon, registered_here = find_addon(bpy)
    try:
        return colorize_shots(bpy, addon, args)
    finally:
        if registered_here:
            addon.unregister()


def colorize_shots(bpy: Any, addon: ModuleType, args: argparse.Namespace) -> int:
    jobs = importlib.import_module(addon.__name__ + ".jobs")
    shots_mod = importlib.import_module(addon.__name__ + ".shots")
    engine = importlib.import_module(addon.__name__ + ".engine")
    say(f"add-on {addon.__name__} ({os.path.dirname(addon.__file__ or '')})")

    todo = [(scene, strip) for scene in bpy.data.scenes for strip in shots_mod.shots(scene)]
    if args.shot:
        todo = [(scene, strip) for scene, strip in todo if strip.name == args.shot]
        if not todo:
            names = sorted({s.name for sc in bpy.data.scenes for s in shots_mod.shots(sc)})
            fail(f"no shot named '{args.shot}' in {bpy.data.filepath} "
                 f"(shots: {', '.join(names) or 'none'})")
            return 1
    if not todo:
        fail(f"no DACoN shots in {bpy.data.filepath} (make a line-art strip a shot first)")
        return 1
    found = engine_interpreter(addon, args)
    if found is None:
        return 1
    python, source = found
    say(f"engine: {python} (from {source})")

    failed = 0
    changed = False
    try:
        for scene, strip in todo:
            label = strip.name if len(bpy.data.scenes) == 1 else f"{scene.name}/{strip.name}"
            try:
                job = jobs.start_colorize(scene, strip, frames=args.frames, resume=args.resume,
                                          python=python)
            except shots_mod.ShotError as ex:
                fail(f"{label}: {ex}")
                failed += 1
                continue
            say(f"{label}: colorizing {len(job.request['targets'])} frames into "
                f"{job.request['out']}")

            def progress(_job: Any, ev: dict, label: str = label) -> None:
                if ev.get("type") == "progress" and ev.get("total"):
                    say(f"{label}: {ev.get('done')}/{ev.get('total')} frames")
                elif ev.get("type") == "log":
                    say(f"{label}: engine: {ev.get('message')}")

            job.on_event = progress
            try:
                job.wait(args.timeout, interval=0.1)
            except TimeoutError as ex:
                fail(f"{label}: {ex}")
                failed += 1
                continue
            if job.state == jobs.DONE:
                say(f"{label}: {job.message}")
                changed = True
            else:
                fail(f"{label}: {job.error or job.message}")
                failed += 1
    finally:
        engine.stop_all()
    if changed and not args.no_save:
        bpy.ops.wm.save_mainfile()
        say(f"saved {bpy.data.filepath}")
    if failed:
        fail(f"{failed} of {len(todo)} shots failed")
    return 1 if failed else 0


def main() -> int:
    import bpy

    in_blender = bool(bpy.app.binary_path)  # '' for the bpy module
    if in_blender:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    else:
        argv = sys.argv[1:]
    args = parse_args(in_blender, argv)
    if not in_blender:
        if not os.path.isfile(args.blend):
            fail(f"{args.blend}: no such .blend file")
            return 1
        if not args.factory_prefs and not userpref_read_crashes(bpy):
            bpy.ops.wm.read_userpref()  # as Blender does at start: add-ons, their settings
        bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
    elif not bpy.data.filepath:
        fail("open a .blend first: blender -b shot.blend -P dacon_batch.py -- ...")
        return 1
    return run(bpy, args)


if __name__ == "__main__":
    sys.exit(main())
