"""Create the engine's virtual environment in a background process (no bpy, no torch).

``SetupJob`` runs ``python -m venv`` and then ``pip install`` of the engine wheel bundled in the
extension (pip pulls torch and the rest from the package index). It never blocks: the UI's timer
and the tests call :meth:`SetupJob.poll` until :attr:`SetupJob.done`.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ADDON_DIR = Path(__file__).resolve().parent


def venv_python(venv_dir: str | os.PathLike[str]) -> Path:
    """The interpreter inside a venv folder (Windows or POSIX layout)."""
    venv = Path(venv_dir)
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def bundled_engine_wheel(addon_dir: Path = ADDON_DIR) -> Path | None:
    """The ``dacon_engine`` wheel shipped in the extension's ``wheels/`` folder, if any."""
    found = sorted((addon_dir / "wheels").glob("dacon_engine-*.whl"))
    return found[-1] if found else None


def setup_commands(base_python: str, venv_dir: str | os.PathLike[str],
                   packages: Sequence[str], pip_args: str = "") -> list[list[str]]:
    """The commands that build the engine venv: create it, then pip-install ``packages``."""
    py = str(venv_python(venv_dir))
    steps = [[base_python, "-m", "venv", str(venv_dir)]]
    steps.append([py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                  *shlex.split(pip_args), *packages])
    return steps


# lines that say why a step failed (pip's "ERROR: ...", a Python exception), best first
_CAUSES = (re.compile(r"^ERROR:"), re.compile(r"^\w*(Error|Exception)\b.*:"),
           re.compile(r"\berror\b", re.IGNORECASE))


def failure_cause(lines: Sequence[str]) -> str:
    """The line of a failed step's output that says why (else its last non-empty line)."""
    text = [line.strip() for line in lines if line.strip() and not line.startswith("$ ")]
    for pattern in _CAUSES:
        found = [line for line in text if pattern.search(line)]
        if found:
            return found[0] if pattern is _CAUSES[0] else found[-1]
    return text[-1] if text else ""


class SetupJob:
    """A sequence of commands run one after another in child processes, polled without blocking.

    ``state`` is "running", "done" or "failed"; ``lines`` holds the output so far, ``error`` a
    one-line reason on failure and ``cause`` the output line that says why. With ``log_path``
    the whole output also goes to that file (the UI names it).
    """

    def __init__(self, steps: Sequence[Sequence[str]], *, env: dict[str, str] | None = None,
                 log_path: str | os.PathLike[str] | None = None) -> None:
        if not steps:
            raise ValueError("no set-up steps")
        self.steps = [list(s) for s in steps]
        self.env = env
        self.step = 0
        self.state = "running"
        self.error = ""
        self.cause = ""
        self.lines: list[str] = []
        self.log_path = None if log_path is None else Path(log_path)
        self._log: Any = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - kept open
        self._step_start = 0
        self._proc: subprocess.Popen[str] | None = None
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._start_step()

    @property
    def done(self) -> bool:
        """True once the job finished, failed or was cancelled."""
        return self.state != "running"

    @property
    def progress(self) -> tuple[int, int]:
        """``(steps finished, steps in all)``."""
        return (self.step, len(self.steps))

    @property
    def last_line(self) -> str:
        """The newest line of output (for a status label)."""
        return self.lines[-1] if self.lines else ""

    def _start_step(self) -> None:
        cmd = self.steps[self.step]
        self._step_start = len(self.lines)
        self._keep(["$ " + " ".join(shlex.quote(c) for c in cmd)])
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                text=True, errors="replace", env=self.env)
        except OSError as ex:
            self._fail(f"cannot run {cmd[0]}: {ex.strerror or ex}")
            return
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _fail(self, message: str) -> None:
        self.state = "failed"
        self.error = message
        self._proc = None
        self._keep([f"set-up failed: {message}"])
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def poll(self) -> list[str]:
        """Collect new output, advance to the next step when one ends; returns the new lines."""
        new: list[str] = []
        while self._proc is not None:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self._keep(new)
            if line is not None:
                new.append(line)
                continue
            rc = self._proc.wait()
            if rc != 0:
                self._keep(new)
                self.cause = failure_cause(self.lines[self._step_start:])
                self._fail(f"step {self.step + 1} of {len(self.steps)} exited with {rc}: "
                           f"{self.cause}")
                return new
            self.step += 1
            if self.step == len(self.steps):
                self.state = "done"
                self._proc = None
                self._close_log()
            else:
                self._keep(new)
                self._start_step()
                new = []
        return self._keep(new)

    def _keep(self, new: list[str]) -> list[str]:
        self.lines.extend(new)
        if self._log is not None and new:
            self._log.write("".join(line + "\n" for line in new))
            self._log.flush()
        return new

    def wait(self, timeout: float | None = None) -> str:
        """Block until done (tests and headless scripts only); returns ``state``."""
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            self.poll()
            if end is not None and time.monotonic() > end:
                raise TimeoutError("engine set-up still running")
            time.sleep(0.05)
        return self.state

    def cancel(self) -> None:
        """Stop the running step; the job ends as failed ("cancelled")."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not self.done:
            self._fail("cancelled")


def start_setup(venv_dir: str | os.PathLike[str], *, online: bool, base_python: str = "",
                packages: Sequence[str] | None = None, pip_args: str = "") -> SetupJob:
    """Start building the engine venv. Refuses when Blender does not allow online access.

    ``base_python`` defaults to the interpreter running this code (Blender's own Python inside
    Blender); ``packages`` defaults to the bundled engine wheel (its dependencies, torch
    included, come from the package index).
    """
    if not online:
        raise PermissionError("online access is off: allow it in Preferences > System > Network, "
                              "or set the engine interpreter to an existing environment")
    if packages is None:
        wheel = bundled_engine_wheel()
        if wheel is None:
            raise FileNotFoundError("the extension carries no dacon_engine wheel")
        packages = [str(wheel)]
    return SetupJob(setup_commands(base_python or sys.executable, venv_dir, packages, pip_args),
                    log_path=setup_log_path(venv_dir))


def setup_log_path(venv_dir: str | os.PathLike[str]) -> Path:
    """Where the set-up writes its whole output: ``<venv folder>-setup.log`` beside it."""
    venv = Path(venv_dir)
    return venv.with_name(venv.name + "-setup.log")


def failure_lines(job: SetupJob, width: int = 90) -> list[str]:
    """The failed set-up in a few short lines for the preferences: what failed, the line that
    says why (wrapped, never cut), and where the whole output is."""
    head = f"Set-up failed (step {job.step + 1} of {len(job.steps)})" if job.cause else \
        f"Set-up failed: {job.error}"
    lines = [head]
    if job.cause:
        lines += textwrap.wrap(job.cause, width) or [job.cause]
    if job.log_path is not None:
        lines.append(f"Full log: {job.log_path}")
    return lines
