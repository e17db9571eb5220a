"""dacon review: highlight images of low-confidence segments, and the worst frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from dacon_engine.outputs.review import HIGHLIGHT, review_shot
from dacon_engine.outputs.write import read_exr_outputs
from tests.support.clips import make_shot


@pytest.fixture
def colored(tmp_path: Path) -> Path:
    shot = make_shot(tmp_path / "shot", n=3)
    out = tmp_path / "out"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--out", str(out), "--format", "png,exr", "--quiet"]) == 0
    return out


def expected(out: Path, stem: str, threshold: float) -> tuple[np.ndarray, int]:
    rec = json.loads((out / f"{stem}.json").read_text())
    labels = read_exr_outputs(out / f"{stem}.exr")["segment.id"].astype(np.int64)
    low = np.zeros(rec["n_segments"] + 1, bool)
    for s in rec["segments"]:
        low[s["id"]] = s["confidence"] < threshold
    return low[labels], int(low.sum())


def test_highlights_exactly_the_segments_below_the_threshold(colored):
    confs = sorted(s["confidence"] for k in range(1, 4)
                   for s in json.loads((colored / f"{k:04d}.json").read_text())["segments"])
    threshold = float(np.median(confs))  # some segments on each side
    summary = review_shot(colored, threshold)
    assert [f["frame"] for f in summary["frames"]] == ["0001", "0002", "0003"]
    for f in summary["frames"]:
        img = read_image(Path(f["review"]))
        mask, n_low = expected(colored, f["frame"], threshold)
        assert mask.any()
        assert np.array_equal(img[..., 3] > 0, mask)
        assert (img[mask] == HIGHLIGHT).all()
        assert f["low_segments"] == n_low and f["low_pixels"] == int(mask.sum())
    worst = max(summary["frames"], key=lambda f: f["low_pixels"])["frame"]
    assert summary["worst"] == worst
    saved = json.loads((colored / "review" / "review.json").read_text())
    assert saved["worst"] == worst and saved["threshold"] == threshold


def test_without_exr_the_line_art_is_segmented_again(colored, tmp_path):
    with_exr = review_shot(colored, 0.9, tmp_path / "a")
    for exr in colored.glob("*.exr"):
        exr.unlink()
    without = review_shot(colored, 0.9, tmp_path / "b")
    for a, b in zip(with_exr["frames"], without["frames"]):
        assert np.array_equal(read_image(Path(a["review"])), read_image(Path(b["review"])))


def test_nothing_below_zero_and_bad_input(colored, tmp_path, capsys):
    summary = review_shot(colored, 0.0)
    assert summary["worst"] is None and all(f["low_pixels"] == 0 for f in summary["frames"])
    with pytest.raises(DaconError, match="--threshold 1.5: must be between 0 and 1"):
        review_shot(colored, 1.5)
    with pytest.raises(DaconError, match="holds no colorized frames"):
        review_shot(tmp_path / "shot", 0.5)
    rec = json.loads((colored / "0002.json").read_text())
    rec["segments"] = rec["segments"][:-1]
    (colored / "0002.json").write_text(json.dumps(rec))
    with pytest.raises(DaconError, match="0002.json: record is incomplete"):
        review_shot(colored, 0.5)
    rec["n_segments"] -= 1  # a consistent record that no longer fits its frame
    (colored / "0002.json").write_text(json.dumps(rec))
    with pytest.raises(DaconError, match="0002.json: names .* segments but 0002.exr has"):
        review_shot(colored, 0.5)
    (colored / "0002.exr").unlink()
    with pytest.raises(DaconError, match="0002.json: its line art .* no longer gives the "
                                         "recorded segments"):
        review_shot(colored, 0.5)
