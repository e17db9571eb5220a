"""User-facing errors: one line naming the file and the problem."""

from __future__ import annotations

import os


class DaconError(Exception):
    """An input or output problem a user can fix.

    ``str(err)`` is a single line ``"<path>: <problem>"``; the CLI prints it and exits 2.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.problem if self.path is None else f"{self.path}: {self.problem}"
