"""The shipped configuration's figures on warps of the real PaintBucket frame 0242 (read
from ../shared, never copied into the repository; skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacon_engine.colorizer import Colorizer
from dacon_engine.evaluation.quality import score_cases, warp_suite
from dacon_engine.fileio.images import read_image

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "paintbucket_0242"
# Acc / Acc on segments > 10 px (percent) of the default model as shipped (graph refinement
# and mirrored references on) on the first 2 mild warps (seed 1) and the first 4 large ones
# (seed 2: the 4th is mirrored) of bench_quality's suites; measured 2026-11-26 with the
# default model at U-Net input 512 (issue 13): 91.84 / 96.50 and 80.62 / 91.49; the same
# day with its lines widened (line_widen 0.5, issue 12):
PINNED = {"mild": (92.04, 98.25), "large": (80.92, 92.33)}
TOLERANCE = 1.0  # points


@pytest.mark.skipif(not (REAL / "line.png").is_file(), reason="../shared/data/paintbucket_0242 absent")
@pytest.mark.parametrize("regime,seed,n", [("mild", 1, 2), ("large", 2, 4)])
def test_default_model_on_real_warps_holds_its_figures(regime: str, seed: int, n: int):
    line, gt = read_image(REAL / "line.png"), read_image(REAL / "gt.png")
    m = score_cases(lambda: Colorizer("default"), warp_suite(line, gt, seed=seed, n=n,
                                                             regime=regime))
    acc, big = 100 * m["acc"], 100 * m["acc_thres"]
    print(f"{regime}: acc {acc:.2f} acc>10px {big:.2f}")
    want_acc, want_big = PINNED[regime]
    assert acc >= want_acc - TOLERANCE and big >= want_big - TOLERANCE
