"""File helpers: atomic writes keep normal permissions and leave nothing on failure."""

import os
import stat

import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio.files import atomic_path, atomic_write_text, collect_images, frame_number


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


def test_every_image_suffix_is_collected_in_frame_order(tmp_path):
    from dacon_engine.fileio.files import IMAGE_SUFFIXES

    names = [f"f{i}{sfx}" for i, sfx in enumerate(IMAGE_SUFFIXES)] + ["f99.PNG"]
    for name in names + ["f50.txt", "f51.psd", "readme"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "f60.png").mkdir()  # a folder named like an image is not an input
    assert [p.name for p in collect_images([tmp_path])] == names
    for sfx in (".png", ".tga", ".tif", ".tiff", ".exr", ".jpg", ".jpeg", ".bmp", ".webp"):
        assert sfx in IMAGE_SUFFIXES


def test_files_without_a_number_go_last_and_ties_sort_by_name(tmp_path):
    from dacon_engine.fileio.files import sorted_by_frame

    names = ["cover.png", "b_2.png", "a_2.png", "x_0.png", "z_1.png", "alpha.png"]
    assert [p.name for p in sorted_by_frame(names)] == [
        "x_0.png", "z_1.png", "a_2.png", "b_2.png", "alpha.png", "cover.png"]
    assert frame_number("cover.png") is None
    assert frame_number("take3/shot_0007.png") == 7  # the folder's digits do not count
    assert frame_number("0.png") == 0


def test_collect_mixes_files_folders_and_globs_without_duplicates(tmp_path):
    (tmp_path / "clip").mkdir()
    for n in (3, 1):
        (tmp_path / "clip" / f"line_{n}.png").write_bytes(b"")
    (tmp_path / "clip" / "line_2.txt").write_bytes(b"")
    extra = tmp_path / "line_2.png"
    extra.write_bytes(b"")
    got = collect_images([tmp_path / "clip", extra, str(tmp_path / "clip" / "line_*"),
                          str(tmp_path / "clip" / "line_1.png")])
    assert [p.name for p in got] == ["line_1.png", "line_2.png", "line_3.png"]


def test_collect_errors_name_the_input(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_bytes(b"")
    with pytest.raises(DaconError, match="empty: folder holds no image files"):
        collect_images([tmp_path / "empty"])
    with pytest.raises(DaconError, match=r"\*\.png: pattern matches no image files"):
        collect_images([str(tmp_path / "empty" / "*.png")])
    with pytest.raises(DaconError, match=r"\*\.txt: pattern matches no image files"):
        collect_images([str(tmp_path / "empty" / "*.txt")])  # matches a file, not an image
    with pytest.raises(DaconError, match="missing.png: no such file or folder"):
        collect_images([tmp_path / "missing.png"])


def test_atomic_writes_replace_by_default_and_create_folders(tmp_path):
    from dacon_engine.fileio.files import atomic_write_bytes

    dest = tmp_path / "new" / "deeper" / "out.txt"
    atomic_write_text(dest, "first ✓")
    atomic_write_text(dest, "second ✓")
    assert dest.read_text(encoding="utf-8") == "second ✓"
    atomic_write_bytes(dest, b"\x00\x01")
    assert dest.read_bytes() == b"\x00\x01"
    with pytest.raises(DaconError, match="out.txt: already exists"):
        atomic_write_bytes(dest, b"no", overwrite=False)
    assert dest.read_bytes() == b"\x00\x01"
    atomic_write_bytes(tmp_path / "fresh.bin", b"ok", overwrite=False)  # new file: allowed
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out.txt"]  # no temp files left


def test_atomic_path_keeps_the_destination_suffix_and_writes_in_place(tmp_path):
    dest = tmp_path / "frame.png"
    with atomic_path(dest) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"  # writers pick formats by it
        assert not dest.exists()
        tmp.write_bytes(b"png")
    assert dest.read_bytes() == b"png"


def test_unwritable_places_are_clear_errors(tmp_path):
    from dacon_engine.fileio.files import check_writable_dir

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(DaconError, match="file.txt: cannot write here"):
        atomic_write_text(blocker / "out.txt", "x")
    with pytest.raises(DaconError, match=r"out: output folder cannot be written "
                                         r"\(Not a directory\)$"):
        check_writable_dir(blocker / "out")
    made = check_writable_dir(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b" and made.is_dir()
    assert check_writable_dir(made) == made  # an existing folder is fine
    assert list(made.iterdir()) == []  # the probe file is gone


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_an_existing_folder_that_refuses_files_is_reported():
    from dacon_engine.fileio.files import check_writable_dir

    # /proc exists, but no one (root included) can create files in it
    with pytest.raises(DaconError, match="^/proc: output folder cannot be written"):
        check_writable_dir("/proc")
