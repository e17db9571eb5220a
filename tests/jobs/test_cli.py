"""End-to-end `dacon` CLI runs: outputs, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dacon_engine.jobs.cli import main
from tests.support.art import draw


def save(path: Path, rgba: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A clip in the DACoN inference layout: line/0001..0003, ref/gt/0000 + ref/line/0000."""
    root = tmp_path / "clip"
    line, gt = draw(96)
    save(root / "ref" / "gt" / "0000.png", gt)
    save(root / "ref" / "line" / "0000.png", line)
    for k in range(1, 4):
        save(root / "line" / f"{k:04d}.png", draw(96, dx=2 * k, dy=-k)[0])
    return root


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def test_colorize_clip_folder_writes_all_formats(clip, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run(capsys, "colorize", clip, "--out", out, "--model", "baseline",
                    "--format", "png,exr", "--quiet", "--contact-sheet")
    assert code == 0, err
    for k in range(1, 4):
        for suffix in (".png", ".json", ".exr"):
            assert (out / f"{k:04d}{suffix}").is_file()
    rec = json.loads((out / "0002.json").read_text())
    assert rec["model"] == "baseline"
    seg = rec["segments"][0]
    assert {"id", "color", "confidence", "area"} <= set(seg)
    assert (out / "contact_sheet.png").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_colorize_explicit_refs_and_modes(clip, tmp_path, capsys):
    for mode in ("keyframe", "consecutive", "nearest"):
        out = tmp_path / mode
        code, err = run(capsys, "colorize", clip / "line", "--ref", clip / "ref/gt/0000.png",
                        "--ref-line", clip / "ref/line/0000.png", "--out", out,
                        "--mode", mode, "--model", "baseline", "--quiet")
        assert code == 0, err
        got = np.asarray(Image.open(out / "0003.png"))
        line = np.asarray(Image.open(clip / "line" / "0003.png"))
        is_line = line[..., 3] > 0
        assert np.array_equal(got[is_line], line[is_line])  # lines pixel-identical


def _assert_one_line_error(code: int, err: str, name: str) -> None:
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert name in err, err


def test_missing_target(clip, tmp_path, capsys):
    code, err = run(capsys, "colorize", tmp_path / "nope.png", "--ref",
                    clip / "ref/gt/0000.png", "--out", tmp_path / "o", "--model", "baseline")
    _assert_one_line_error(code, err, "nope.png")


def test_truncated_target_writes_nothing(clip, tmp_path, capsys):
    bad = clip / "line" / "0002.png"
    bad.write_bytes(bad.read_bytes()[:200])
    out = tmp_path / "o"
    code, err = run(capsys, "colorize", clip, "--out", out, "--model", "baseline", "--quiet")
    _assert_one_line_error(code, err, "0002.png")
    assert not out.exists() or not any(out.iterdir())


def test_not_an_image(clip, tmp_path, capsys):
    (clip / "line" / "0002.png").write_text("hello")
    code, err = run(capsys, "colorize", clip, "--out", tmp_path / "o", "--model", "baseline")
    _assert_one_line_error(code, err, "0002.png")


def test_reference_size_mismatch(clip, tmp_path, capsys):
    small = save(tmp_path / "small_line.png", draw(64)[0])
    code, err = run(capsys, "colorize", clip / "line", "--ref", clip / "ref/gt/0000.png",
                    "--ref-line", small, "--out", tmp_path / "o", "--model", "baseline")
    _assert_one_line_error(code, err, "0000.png")


def test_reference_with_no_regions(clip, tmp_path, capsys):
    black = np.zeros((32, 32, 4), np.uint8)
    black[..., 3] = 255
    ref = save(tmp_path / "black.png", black)  # a black target is fine (test_reliability)
    code, err = run(capsys, "colorize", clip / "line", "--ref", ref, "--out", tmp_path / "o",
                    "--model", "baseline")
    _assert_one_line_error(code, err, "black.png")


def test_unwritable_output_folder(clip, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run(capsys, "colorize", clip, "--out", blocker / "out", "--model", "baseline")
    _assert_one_line_error(code, err, "out")


def test_existing_output_is_kept_without_overwrite(clip, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "0002.png").write_bytes(b"precious")
    code, err = run(capsys, "colorize", clip, "--out", out, "--model", "baseline", "--quiet")
    _assert_one_line_error(code, err, "0002.png")
    assert (out / "0002.png").read_bytes() == b"precious"
    assert not (out / "0001.png").exists()  # nothing written before the check
    code, err = run(capsys, "colorize", clip, "--out", out, "--model", "baseline",
                    "--quiet", "--overwrite")
    assert code == 0, err
    assert (out / "0002.png").read_bytes() != b"precious"


def test_ref_line_without_ref(clip, tmp_path, capsys):
    code, err = run(capsys, "colorize", clip / "line", "--ref", clip / "ref/gt/0000.png",
                    "--ref-line", clip / "ref/line/0000.png", "--ref-line",
                    clip / "ref/line/0000.png", "--out", tmp_path / "o", "--model", "baseline")
    _assert_one_line_error(code, err, "0000.png")


def test_segment_command(clip, tmp_path, capsys):
    from dacon_engine.fileio.labelmap import read_label_map

    out = tmp_path / "seg"
    code, err = run(capsys, "segment", clip / "line", "--out", out, "--preview", "--quiet")
    assert code == 0, err
    labels = read_label_map(out / "0001.png")
    assert labels.max() >= 5 and (labels == 0).any()
    assert (out / "0001_preview.png").is_file()
