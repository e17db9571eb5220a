"""The add-on's only door to the engine: ``dacon_engine.client`` (stdlib-only, bundled wheel).

Everything here is plain Python (no bpy) so tests and headless scripts call it directly.
"""

from __future__ import annotations

import threading
from typing import Any


def client_module() -> Any:
    """``dacon_engine.client``, or raise ImportError with a plain-words reason."""
    try:
        from dacon_engine import client  # type: ignore[import-not-found,unused-ignore]
    except ImportError as ex:
        raise ImportError("the DACoN engine client is missing from this Blender "
                          f"(reinstall the extension): {ex}") from ex
    return client


def doctor_report(python: str) -> dict[str, Any]:
    """What ``dacon doctor`` reports for the engine run by ``python`` (never raises).

    TODO(engine wiring): this is the single call into ``dacon_engine.client.doctor``; the keys are
    those of the client: ok, python, error, engine_version, protocol, torch, cuda, devices,
    models, missing.
    """
    if not python:
        return {"ok": False, "python": python, "error": "no engine interpreter is set"}
    try:
        client = client_module()
        return dict(client.doctor(python))
    except Exception as ex:  # noqa: BLE001 - shown to the user, one line
        return {"ok": False, "python": python, "error": f"{type(ex).__name__}: {ex}"}


def format_report(report: dict[str, Any]) -> str:
    """The doctor report in plain words (the client's formatter when it is available)."""
    try:
        return str(client_module().format_doctor(report))
    except Exception:  # noqa: BLE001 - fall back to a minimal text
        if report.get("ok"):
            return f"engine {report.get('engine_version', '?')} OK ({report.get('python')})"
        return f"engine not usable: {report.get('error') or 'unknown error'}"


class DoctorCheck:
    """Runs :func:`doctor_report` in a thread so the UI never waits on the engine starting."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.report: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.report = doctor_report(self.python)

    @property
    def done(self) -> bool:
        """True once the report is in."""
        return self.report is not None

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the report is in (tests and headless scripts only)."""
        self._thread.join(timeout)
        return self.report


def stop_all() -> None:
    """Stop every engine process this session started (called on disable and on quit).

    TODO(engine wiring): shut down the session's EngineClient here once Colorize owns one.
    """
