"""Every option value that cannot be honoured is refused up front: exit 2, one line naming
the option, the value and what is allowed, and nothing left on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacon_engine.errors import DaconError
from dacon_engine.jobs.cli import main
from tests.support.clips import make_shot


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    return make_shot(tmp_path / "shot", n=2)


def refused(capsys, argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse-level refusals
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dacon: "), err
    return lines[0]


COLORIZE_BAD = [
    ("--batch-size", "0", "must be a whole number >= 1"),
    ("--batch-size", "-3", "must be a whole number >= 1"),
    ("--batch-size", "two", "must be a whole number >= 1"),
    ("--gap-radius", "-1", "must be a whole number >= 0"),
    ("--gap-radius", "1.5", "must be a whole number >= 0"),
    ("--gap-radius", "50000", "too large for this 96x96 frame (at most 48)"),
    ("--mode", "sideways", "invalid choice"),
    ("--format", "gif", "unknown format"),
    ("--frames", "9-1", "ends before it starts"),
    ("--device", "tpu", "invalid choice"),
    ("--precision", "fp16", "invalid choice"),
    ("--line-mode", "fuzzy", "unknown mode"),
    ("--model", "no-such-model", "unknown model"),
]


@pytest.mark.parametrize("option,value,allowed", COLORIZE_BAD)
def test_colorize_options(capsys, shot, tmp_path, option, value, allowed):
    out = tmp_path / "out"
    line = refused(capsys, ["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                            "--out", str(out), option, value])
    assert allowed in line
    assert value in line or option.lstrip("-") in line
    assert not out.exists()


@pytest.mark.parametrize("argv,allowed", [
    (["synth", "--clips", "0"], "--clips: 0: must be a whole number >= 1"),
    (["synth", "--frames", "-2"], "--frames: -2: must be a whole number >= 1"),
    (["synth", "--size", "10"], "--size: 10: must be a whole number of pixels from 64 to 8192"),
    (["synth", "--size", "100000"], "from 64 to 8192"),
    (["synth", "--seed", "-1"], "--seed: -1: must be a whole number from 0 to 4294967295"),
    (["synth", "--regime", "both!"], "invalid choice"),
])
def test_synth_options(capsys, tmp_path, argv, allowed):
    out = tmp_path / "synth"
    assert allowed in refused(capsys, argv + ["--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("argv,allowed", [
    (["--steps", "0"], "--steps: 0: must be a whole number >= 1"),
    (["--batch", "0"], "--batch: 0: must be a whole number >= 1"),
    (["--lr", "0"], "--lr: 0: must be a number more than 0 and at most 1"),
    (["--lr", "nan"], "--lr: nan: must be a number"),
    (["--lr", "5"], "at most 1"),
    (["--keyframe-fraction", "1.5"], "--keyframe-fraction: 1.5: must be a number from 0 to 1"),
    (["--warp-fraction", "-0.1"], "--warp-fraction: -0.1: must be a number from 0 to 1"),
    (["--degrade-fraction", "2"], "--degrade-fraction: 2: must be a number from 0 to 1"),
    (["--new-shape-fraction", "1.01"], "--new-shape-fraction: 1.01: must be a number from 0 to 1"),
    (["--max-minutes", "-5"], "--max-minutes: -5: must be a number >= 0"),
    (["--data-workers", "-1"], "--data-workers: -1: must be a whole number >= 0"),
    (["--size", "32"], "--size: 32: must be a whole number of pixels from 64"),
    (["--unet-input", "100"], "--unet-input: 100: must be a whole number >= 16 and a multiple of 16"),
    (["--unet-base", "0"], "--unet-base: 0: must be a whole number >= 1"),
    (["--threads", "-1"], "--threads: -1: must be a whole number >= 0"),
    (["--seed", "x"], "--seed: x: must be a whole number"),
    (["--device", "gpu"], "invalid choice"),
    (["--data", "/no/such/data"], "/no/such/data: no such training data folder"),
    (["--init", "/no/such.pt"], "/no/such.pt: no such checkpoint (--init)"),
    (["--dinov2-weights", "/no/dino.pth"], "/no/dino.pth: no such DINOv2 weight file"),
])
def test_train_options_leave_no_run_folder(capsys, tmp_path, argv, allowed):
    run = tmp_path / "run"
    assert allowed in refused(capsys, ["train", "--run", str(run)] + argv)
    assert not run.exists()


def test_train_with_an_unreadable_init_leaves_no_run_folder(capsys, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    run = tmp_path / "run"
    line = refused(capsys, ["train", "--run", str(run), "--init", str(bad), "--steps", "1"])
    assert str(bad) in line and "cannot read" in line
    assert not run.exists()


@pytest.mark.parametrize("argv,allowed", [
    (["segment", "--gap-radius", "-4"], "--gap-radius: -4: must be a whole number >= 0"),
    (["segment", "--gap-radius", "4000"], "too large for this 96x96 frame (at most 48)"),
    (["segment", "--line-mode", "x"], "unknown mode"),
])
def test_segment_options(capsys, shot, tmp_path, argv, allowed):
    out = tmp_path / "seg"
    line = refused(capsys, argv[:1] + [str(shot["lines"][0]), "--out", str(out)] + argv[1:])
    assert allowed in line
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize("argv,allowed", [
    (["review", "OUT", "--threshold", "-0.1"], "--threshold: -0.1: must be a number from 0 to 1"),
    (["review", "OUT", "--threshold", "nan"], "must be a number from 0 to 1"),
    (["doctor", "--timeout", "0"], "--timeout: 0: must be a number more than 0"),
    (["serve", "--device", "tpu"], "invalid choice"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["colorize"], "the following arguments are required"),
])
def test_other_commands(capsys, tmp_path, argv, allowed):
    argv = [str(tmp_path) if a == "OUT" else a for a in argv]
    assert allowed in refused(capsys, argv)


def test_the_python_api_refuses_the_same_values(shot, tmp_path):
    from dacon_engine.colorizer import Colorizer
    from dacon_engine.fileio.images import read_image
    from dacon_engine.jobs.pipeline import ColorizeJob
    from dacon_engine.segmentation.segments import segment_line_art

    with pytest.raises(DaconError, match="--gap-radius -2: must be a whole number >= 0"):
        Colorizer("baseline", gap_radius=-2)
    with pytest.raises(DaconError, match="too large for this 96x96 frame"):
        segment_line_art(read_image(shot["lines"][0]), gap_radius=10**6)
    c = Colorizer("baseline")
    c.add_reference(shot["ref"])
    with pytest.raises(DaconError, match="batch size 0"):
        list(c.colorize(shot["lines"], batch_size=0))
    with pytest.raises(DaconError, match="--batch-size 0"):
        ColorizeJob.create(shot["lines"], out=tmp_path / "o", refs=[shot["ref"]], batch_size=0,
                           model="baseline")
    assert not (tmp_path / "o").exists()
