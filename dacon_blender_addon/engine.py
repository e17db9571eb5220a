"""The add-on's only door to the engine: ``dacon_engine.client`` (stdlib-only, bundled wheel).

One ``EngineClient`` per Blender session (:func:`session_client`), started lazily with the
chosen interpreter, replaced when it died or the interpreter changed, stopped by
:func:`stop_all` (add-on disabled, Python exiting). Everything here is plain Python (no bpy)
so tests and headless scripts call it directly.
"""

from __future__ import annotations

import atexit
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

    The keys are those of ``dacon_engine.client.doctor``: ok, python, error, engine_version,
    protocol, torch, cuda, devices, models, missing.
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


class _Session:
    """The one engine of this Blender session (module state, never saved)."""

    lock = threading.Lock()
    client: Any = None


_session = _Session()


def session_client(python: str, timeout: float = 120.0) -> Any:
    """The session's running ``EngineClient`` for ``python``, started (or restarted) on demand.

    Blocks while the engine starts (~1-2 s, longer on a cold disk), so callers in Blender run
    it in a worker thread (see :class:`ClientStart`). A dead engine, or one started with
    another interpreter, is replaced. Raises ``EngineError`` (e.g. ``EngineStartError`` with
    "no such interpreter") in plain words.
    """
    client_mod = client_module()
    if not python:
        raise client_mod.EngineStartError("no engine interpreter is set (add-on preferences: "
                                          "Engine Python, or Set Up Engine)")
    with _session.lock:
        current = _session.client
        if current is not None and current.alive and current.python == python:
            return current
        if current is not None:
            _session.client = None
            current.shutdown(timeout=3.0)
        fresh = client_mod.EngineClient(python)
        _session.client = fresh  # visible to stop_all() while it starts
        try:
            fresh.start(timeout)
        except BaseException:
            if _session.client is fresh:
                _session.client = None
            raise
        return fresh


def current_client() -> Any | None:
    """The session's engine client if one was started (alive or not), else None."""
    return _session.client


class ClientStart:
    """Gets the session client in a worker thread, so Blender never waits on an engine start."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.client: Any = None
        self.error: Exception | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dacon-engine-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.client = session_client(self.python)
        except Exception as ex:  # noqa: BLE001 - handed to the main thread
            self.error = ex
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        """True once the client is running or the start failed."""
        return self._done.is_set()


def error_message(ex: BaseException) -> str:
    """One line for the user: the engine's own message, or the exception's text."""
    message = getattr(ex, "message", None) or str(ex) or type(ex).__name__
    return " ".join(str(message).split())


def stop_all() -> None:
    """Stop the session's engine (add-on disabled, Blender quitting); the next job starts anew."""
    client = _session.client
    _session.client = None
    if client is not None:
        try:
            client.shutdown(timeout=3.0)
        except Exception:  # noqa: BLE001 - best effort on the way out
            client.terminate()


atexit.register(stop_all)
