"""`dacon colorize --adapt`: the adapted model colors the frames, the records say so, worker
processes use the parent's adapted weights, and a second run reuses the cached result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dacon_engine.jobs.arguments import colorize_parser, options_from_args
from dacon_engine.jobs.cli import main
from dacon_engine.training import adapt
from tests.support.clips import make_shot


def colorize(capsys, shot: dict, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(out), "--quiet", *extra])
    return code, capsys.readouterr().err.strip()


def records(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


@pytest.fixture
def forced(tmp_path, monkeypatch):
    """Adaptation with 4 pairs, 25 head steps and two small generic pairs of each kind,
    scored as a win (0.5 -> 0.9; the generic guard 0.9 -> 0.9)."""
    monkeypatch.setenv("DACON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(adapt, "MAX_PAIRS", 4)
    monkeypatch.setattr(adapt, "HEAD_STEPS", 25)
    monkeypatch.setattr(adapt, "GENERIC_SIZE", 96)
    monkeypatch.setattr(adapt, "GENERIC_REPLAY", 2)
    monkeypatch.setattr(adapt, "GENERIC_GUARD", 2)
    calls: list = []

    def fake(net, pairs):
        calls.append(1)
        return 0.5 if len(calls) == 1 else 0.9

    monkeypatch.setattr(adapt, "held_out_accuracy", fake)
    return calls


def test_adapt_reaches_records_workers_and_the_cache(capsys, tmp_path, forced):
    shot = make_shot(tmp_path / "shot", n=3)
    plain, one, two = tmp_path / "plain", tmp_path / "one", tmp_path / "two"
    assert colorize(capsys, shot, plain)[0] == 0
    code, err = colorize(capsys, shot, one, "--adapt-seconds", "60")
    assert code == 0 and "shot adaptation: adapted: held-out accuracy 0.500 -> 0.900" in err
    code, err = colorize(capsys, shot, two, "--adapt-seconds", "60", "--workers", "2")
    assert code == 0 and "shot adaptation: reusing" in err, err
    base, a, b = records(plain), records(one), records(two)
    for stem, rec in a.items():
        assert "shot adaptation" in rec["model"] and "shot adaptation" not in base[stem]["model"]
        got = rec["matching"]["adaptation"]
        assert got["used"] and got["pairs"] == 4 and not got["cached"]
        assert "adaptation" not in base[stem]["matching"]
        # adapted features: other similarities than the base model's
        assert rec["segments"] != base[stem]["segments"]
        # the workers matched with the parent's adapted weights (read from the cache)
        other = b[stem]
        cached = other["matching"]["adaptation"]
        assert cached["cached"] and cached["seconds"] == 0.0  # no time spent this run
        cached.update(cached=False, seconds=got["seconds"])
        assert other == rec


def test_adapt_flags():
    p = colorize_parser()
    base = ["a.png", "--out", "o"]
    assert options_from_args(p.parse_args(base)).adapt_seconds == 0.0
    assert options_from_args(p.parse_args(base + ["--adapt"])).adapt_seconds == 60.0
    assert options_from_args(p.parse_args(base + ["--adapt-seconds", "15"])).adapt_seconds == 15
    assert options_from_args(p.parse_args(base + ["--adapt", "--adapt-seconds", "0"])
                             ).adapt_seconds == 0.0


def test_adapt_with_the_baseline_is_one_line_and_leaves_nothing(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=2)
    code, err = colorize(capsys, shot, tmp_path / "o", "--adapt", "--model", "baseline")
    assert code == 2 and err.endswith("--adapt: model 'baseline' has no trained network to adapt")
    assert not (tmp_path / "o").exists()


def test_cancel_during_adaptation_writes_nothing_and_caches_nothing(tmp_path, forced):
    from dacon_engine.jobs.pipeline import ColorizeJob

    shot = make_shot(tmp_path / "shot", n=2)
    job = ColorizeJob.create([shot["root"] / "line"], out=tmp_path / "out", refs=[shot["ref"]],
                             ref_lines=[shot["ref_line"]], adapt_seconds=60, quiet=True)
    asked: list = []

    def stop() -> bool:  # the references load, then cancel at the first adaptation pair
        asked.append(1)
        return len(asked) > 1

    summary = job.run(should_stop=stop)
    assert summary.cancelled and summary.frames_done == 0
    assert summary.adaptation["reason"] == "cancelled"
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
