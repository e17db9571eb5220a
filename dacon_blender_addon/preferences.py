"""Add-on preferences: the engine interpreter, its set-up and check, job defaults."""

from __future__ import annotations

import os
from typing import Any

import bpy

from . import engine, engine_setup
from .compat import OperatorResult
from .properties import DEFAULT_FORMATS, FORMATS

PACKAGE = __package__ or "dacon_blender_addon"
DEVICES = (
    ("auto", "Auto", "CUDA when available, else CPU"),
    ("cpu", "CPU", "Always the CPU"),
    ("cuda", "CUDA", "An NVIDIA GPU"),
)


class _State:
    """Session state of the set-up and check operators (not saved)."""

    setup: engine_setup.SetupJob | None = None
    setup_venv: str = ""
    check: engine.DoctorCheck | None = None
    check_text: str = ""


state = _State()


def get_preferences(context: Any = None) -> Any | None:
    """This add-on's preferences, or None when it is not enabled as an add-on (e.g. tests)."""
    prefs = (context or bpy.context).preferences
    addon = None if prefs is None else prefs.addons.get(PACKAGE)
    return None if addon is None else addon.preferences


def user_dir() -> str:
    """The extension's writable user folder (a config folder for a legacy add-on)."""
    try:
        return str(bpy.utils.extension_path_user(PACKAGE, create=True))
    except (ValueError, KeyError):
        return str(bpy.utils.user_resource("CONFIG", path="dacon", create=True))


def default_venv_dir() -> str:
    """Where "Set up engine" puts the engine's venv."""
    return os.path.join(user_dir(), "engine-venv")


ENV_PYTHON = "DACON_ENGINE_PYTHON"


def engine_python(prefs: Any | None) -> str:
    """The engine interpreter: the preference, else $DACON_ENGINE_PYTHON, else the set-up venv's."""
    return engine_python_source(prefs)[0]


def engine_python_source(prefs: Any | None) -> tuple[str, str]:
    """:func:`engine_python` and where it came from, in words ("" and "" when none is set)."""
    if prefs is not None and prefs.python:
        return str(bpy.path.abspath(prefs.python)), "the add-on preferences' Engine Python"
    if os.environ.get(ENV_PYTHON):
        return os.environ[ENV_PYTHON], f"${ENV_PYTHON}"
    candidate = engine_setup.venv_python(default_venv_dir())
    if candidate.is_file():
        return str(candidate), "the venv made by Set Up Engine"
    return "", ""


def poll_setup(prefs: Any | None) -> bool:
    """Advance the set-up job; on success point ``prefs.python`` at the new venv. True when done."""
    job = state.setup
    if job is None:
        return True
    job.poll()
    if job.state == "done" and prefs is not None:
        prefs.python = str(engine_setup.venv_python(state.setup_venv))
    return job.done


def _redraw_preferences() -> None:
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


def _setup_timer() -> float | None:
    done = poll_setup(get_preferences())
    _redraw_preferences()
    return None if done else 0.5


def _check_timer() -> float | None:
    check = state.check
    if check is None or check.done:
        if check is not None and check.report is not None:
            state.check_text = engine.format_report(check.report)
        _redraw_preferences()
        return None
    return 0.5


class DACON_OT_setup_engine(bpy.types.Operator):
    """Create a Python environment for the engine and install it with torch (downloads ~1-3 GB)"""

    bl_idname = "dacon.setup_engine"
    bl_label = "Set Up Engine"

    def execute(self, context: Any) -> OperatorResult:
        prefs = get_preferences(context)
        if state.setup is not None and not state.setup.done:
            self.report({"WARNING"}, "engine set-up is already running")
            return {"CANCELLED"}
        venv = default_venv_dir()
        try:
            state.setup = engine_setup.start_setup(
                venv, online=bool(bpy.app.online_access),
                base_python=bpy.path.abspath(prefs.base_python) if prefs else "",
                pip_args=prefs.pip_args if prefs else "")
        except (PermissionError, FileNotFoundError) as ex:
            self.report({"ERROR"}, str(ex))
            return {"CANCELLED"}
        state.setup_venv = venv
        bpy.app.timers.register(_setup_timer, first_interval=0.5)
        self.report({"INFO"}, f"setting up the engine in {venv}")
        return {"FINISHED"}


class DACON_OT_setup_engine_cancel(bpy.types.Operator):
    """Stop the running engine set-up"""

    bl_idname = "dacon.setup_engine_cancel"
    bl_label = "Cancel Set-Up"

    def execute(self, context: Any) -> OperatorResult:
        if state.setup is not None:
            state.setup.cancel()
        return {"FINISHED"}


class DACON_OT_check_engine(bpy.types.Operator):
    """Start the engine and show its versions, devices and models (or why it cannot start)"""

    bl_idname = "dacon.check_engine"
    bl_label = "Check Engine"

    def execute(self, context: Any) -> OperatorResult:
        python = engine_python(get_preferences(context))
        state.check = engine.DoctorCheck(python)
        state.check_text = "checking the engine..."
        bpy.app.timers.register(_check_timer, first_interval=0.5)
        return {"FINISHED"}


class DaconPreferences(bpy.types.AddonPreferences):
    """Engine interpreter, device, model and output defaults."""

    bl_idname = PACKAGE

    python: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Engine Python", subtype="FILE_PATH",
        description="Python interpreter of an environment with dacon_engine and torch installed")
    base_python: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Base Python", subtype="FILE_PATH",
        description="Python used to create the engine environment (empty: Blender's own)")
    pip_args: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Extra pip Arguments",
        description="Added to pip install during set-up, e.g. an extra index for CPU-only torch")
    device: bpy.props.EnumProperty(name="Device", items=DEVICES, default="auto")  # type: ignore[valid-type]
    workers: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Worker Processes", default=1, min=1, max=64,
        description="Processes that read, segment and write frames for the engine (1: the "
                    "engine alone). With a GPU, the CPU cores less one; on the CPU, the cores")
    model: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Model", default="default", description="Model name or weights file of the engine")
    dinov2_weights: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="DINOv2 Weights", subtype="FILE_PATH",
        description="Local DINOv2 weights file for models that need it")
    default_formats: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Default Formats", items=FORMATS, options={"ENUM_FLAG"}, default=DEFAULT_FORMATS)

    def draw(self, context: Any) -> None:
        layout = self.layout
        col = layout.column()
        col.prop(self, "python")
        row = col.row(align=True)
        job = state.setup
        if job is not None and not job.done:
            done, total = job.progress
            row.label(text=f"Setting up ({done + 1}/{total}): {job.last_line[-80:]}")
            row.operator(DACON_OT_setup_engine_cancel.bl_idname, icon="CANCEL")
        else:
            sub = row.row(align=True)
            sub.enabled = bool(bpy.app.online_access)
            sub.operator(DACON_OT_setup_engine.bl_idname, icon="IMPORT")
            row.operator(DACON_OT_check_engine.bl_idname, icon="CHECKMARK")
        if not bpy.app.online_access:
            col.label(text="Set-up needs online access (Preferences > System > Network)",
                      icon="INFO")
        if job is not None and job.state == "failed":
            for i, line in enumerate(engine_setup.failure_lines(job)):
                col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        for line in state.check_text.splitlines()[:12]:
            col.label(text=line)
        box = layout.box()
        box.prop(self, "base_python")
        box.prop(self, "pip_args")
        col = layout.column()
        col.prop(self, "device")
        col.prop(self, "workers")
        col.prop(self, "model")
        col.prop(self, "dinov2_weights")
        col.row().prop(self, "default_formats")


CLASSES = (DACON_OT_setup_engine, DACON_OT_setup_engine_cancel, DACON_OT_check_engine,
           DaconPreferences)


def register() -> None:
    """Register the preferences and their operators."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    """Cancel a running set-up and unregister."""
    if state.setup is not None and not state.setup.done:
        state.setup.cancel()
    state.setup = None
    state.check = None
    for timer in (_setup_timer, _check_timer):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
