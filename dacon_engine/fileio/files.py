"""File helpers: atomic writes (and their leftovers), frame-number ordering, collecting
inputs, outputs that would overwrite inputs."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import DaconError

IMAGE_SUFFIXES = (".png", ".tga", ".tif", ".tiff", ".exr", ".jpg", ".jpeg", ".bmp", ".webp")

_NUMBER = re.compile(r"(\d+)")
# atomic_path's temp names: ".<stem>.<8 random>.tmp<suffix>" (older engines also made
# temps of temps, "..<stem>.<r>.tmp.<r>.tmp<suffix>")
_TEMP = re.compile(r"^\.+(?P<stem>.+?)\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def is_temp_name(name: str) -> bool:
    """Whether a file name is an atomic write's temp file (never an input or output)."""
    return _TEMP.match(name) is not None


def clear_stale_temps(folder: str | os.PathLike, stems: Iterable[str]) -> list[Path]:
    """Remove the temp files of ``stems``' outputs in ``folder`` (left by a killed run;
    call it only while holding those frames, see :mod:`outclaim`); the paths removed."""
    wanted = set(stems)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP.match(e.name) if e.name.startswith(".") else None
        if m is None:
            continue
        stem = m["stem"]
        while stem not in wanted and ".tmp" in stem:  # a temp of a temp
            inner = _TEMP.match("." + stem + ".png")
            if inner is None or inner["stem"] == stem:
                break
            stem = inner["stem"]
        if stem in wanted and e.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.unlink(e.path)
                removed.append(Path(e.path))
    return removed


def same_folder(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two folders are one (resolved paths, or the same inode when both exist:
    symlinks, case-insensitive file systems)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_inputs_kept(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                      out_names: Iterable[str], *, option: str = "--out") -> None:
    """Refuse (DaconError naming both) when an output ``out_dir/<name>`` would replace one
    of ``inputs`` (names compared without case: safe on case-insensitive disks)."""
    names = {n.lower(): n for n in out_names}
    folders: dict[Path, bool] = {}
    for p in inputs:
        p = Path(p)
        parent = p.parent.resolve()
        if parent not in folders:
            folders[parent] = same_folder(parent, out_dir)
        if folders[parent] and p.name.lower() in names:
            raise DaconError(p, f"would be overwritten by this job's output "
                                f"{Path(out_dir) / names[p.name.lower()]} (an input in the "
                                f"{option} folder); choose another {option}")


def frame_number(path: str | os.PathLike) -> int | None:
    """The frame number in a file name: the last run of digits in its stem, or None."""
    found = _NUMBER.findall(Path(path).stem)
    return int(found[-1]) if found else None


def frame_sort_key(path: str | os.PathLike) -> tuple:
    """Sort key: frame number first (files without one last), then the name."""
    n = frame_number(path)
    return (n is None, n if n is not None else 0, Path(path).name)


def sorted_by_frame(paths: Iterable[str | os.PathLike]) -> list[Path]:
    return sorted((Path(p) for p in paths), key=frame_sort_key)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, ordered by frame number."""
    folder = Path(folder)
    return sorted_by_frame(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not is_temp_name(p.name)
    )


def collect_images(specs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, folders and globs into image paths ordered by frame number.

    Raises DaconError naming the spec when it matches nothing.
    """
    out: list[Path] = []
    for spec in specs:
        s = os.fspath(spec)
        p = Path(s)
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise DaconError(p, "folder holds no image files")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif glob.has_magic(s):
            found = [Path(g) for g in glob.glob(s) if Path(g).suffix.lower() in IMAGE_SUFFIXES
                     and not is_temp_name(Path(g).name)]
            if not found:
                raise DaconError(s, "pattern matches no image files")
            out.extend(found)
        else:
            raise DaconError(p, "no such file or folder")
    return sorted_by_frame(dict.fromkeys(out))  # de-duplicated, ordered by frame number


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success rename it onto ``dest``.

    On any exception the temp file is removed and ``dest`` is untouched.
    """
    dest = Path(dest)
    if not overwrite and dest.exists():
        raise DaconError(dest, "already exists (use --overwrite to replace it)")
    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".tmp{dest.suffix}", dir=parent)
        os.close(fd)
    except OSError as e:
        raise DaconError(parent, f"cannot write here ({e.strerror or e})") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal modes
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(dest: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    with atomic_path(dest, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(dest: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"), overwrite=overwrite)


def check_writable_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and make sure files can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dacon-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DaconError(folder, f"output folder cannot be written ({e.strerror or e})") from None
    return folder
