"""File helpers: atomic writes keep normal permissions and leave nothing on failure."""

import os
import stat

import pytest

from dacon_engine.errors import DaconError
from dacon_engine.files import atomic_path, atomic_write_text, collect_images, frame_number


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_atomic_path_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "b.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_kept(tmp_path):
    (tmp_path / "c.txt").write_text("keep")
    with pytest.raises(DaconError, match="already exists"):
        atomic_write_text(tmp_path / "c.txt", "new", overwrite=False)
    assert (tmp_path / "c.txt").read_text() == "keep"


def test_frame_order(tmp_path):
    for name in ("shot_10.png", "shot_9.png", "shot_100.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in collect_images([tmp_path])] == ["shot_9.png", "shot_10.png",
                                                            "shot_100.png"]
    assert frame_number("a12_b0034.png") == 34
    with pytest.raises(DaconError, match="no such file"):
        collect_images([tmp_path / "missing.png"])
