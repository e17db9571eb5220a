"""Output-folder claims: two jobs never write the same frames of one folder at once.

A job claims the frame stems it may write with a hidden file ``.dacon-claim.<pid>.<n>``
in the output folder (JSON ``{"pid", "frames"}``) that it holds an exclusive ``flock``
on while it runs. Another job whose frames overlap a live claim is refused with one line
naming the folder, a shared frame and the holder's pid; jobs on disjoint frames (farm
chunks of one shot) run side by side. A claim whose holder died (kill -9) is no longer
locked and is taken over. Claims are made under a brief ``flock`` of the folder itself,
so two jobs starting together cannot both pass. Where ``fcntl`` is missing (Windows) no
claim is made.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import DaconError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PREFIX = ".dacon-claim."
_COUNTER = itertools.count(1)


class Claim:
    """A held claim; :meth:`release` (idempotent) removes it."""

    def __init__(self, path: Path | None = None, fd: int | None = None):
        self.path, self._fd = path, fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            assert self.path is not None
            self.path.unlink()
        os.close(fd)  # drops the lock


def _holder(path: Path) -> dict | None:
    """The live claim in ``path`` (its JSON), or None when its holder is gone (then the
    file is removed)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: read what it claims
            with os.fdopen(os.dup(fd), "rb") as f:
                try:
                    data = json.loads(f.read() or b"{}")
                except ValueError:
                    data = {}
            return data if isinstance(data, dict) else {}
        with contextlib.suppress(OSError):  # not held: its job died; take it over
            path.unlink()
        return None
    finally:
        os.close(fd)


def claim_frames(folder: str | os.PathLike, stems: Iterable[str]) -> Claim:
    """Claim ``stems`` of ``folder`` for this job (DaconError when a live job holds one)."""
    folder = Path(folder)
    stems = list(dict.fromkeys(stems))
    if fcntl is None or not stems:
        return Claim()
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)  # held for the scan only (milliseconds)
        wanted = set(stems)
        for p in sorted(folder.glob(PREFIX + "*")):
            held = _holder(p)
            if held is None:
                continue
            frames = held.get("frames")
            shared = [s for s in frames if s in wanted] if isinstance(frames, list) else []
            if shared or not isinstance(frames, list):
                raise DaconError(folder, f"frame {shared[0] if shared else '?'} is being "
                                         f"written by another job (pid {held.get('pid', '?')}, "
                                         f"{p.name}); wait for it or choose another output "
                                         "folder")
        path = folder / f"{PREFIX}{os.getpid()}.{next(_COUNTER)}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as e:
            raise DaconError(folder, f"output folder cannot be written "
                                     f"({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, json.dumps({"pid": os.getpid(), "frames": stems}).encode())
        except OSError as e:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise DaconError(folder, f"output folder cannot be written "
                                     f"({e.strerror or e})") from None
        return Claim(path, fd)
    finally:
        os.close(dir_fd)  # drops the folder lock


__all__ = ["Claim", "PREFIX", "claim_frames"]
