"""The shipped default model: loads without a download, runs on the CPU, and beats the
geometric baseline on held-out synthetic clips (a regression guard for the shipped file)."""

from __future__ import annotations

import pytest

from dacon_engine.colorizer import Colorizer
from dacon_engine.model.registry import DEFAULT_WEIGHTS
from dacon_engine.quality import score_cases, synthetic_suites


@pytest.fixture(scope="module")
def suites():
    return synthetic_suites(n_clips=2, size=384, n_frames=5)


def test_default_model_is_used_without_model_argument():
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 25 * 2**20
    c = Colorizer()
    assert c.model_name.startswith("default")


@pytest.mark.parametrize("suite", ["consecutive", "keyframe-3ref"])
def test_default_beats_baseline(suites, suite):
    base = score_cases(lambda: Colorizer("baseline"), suites[suite])
    ours = score_cases(lambda: Colorizer("default"), suites[suite])
    assert ours["acc"] > base["acc"], (suite, ours["acc"], base["acc"])
    if suite == "consecutive":
        assert ours["acc"] >= 0.75
