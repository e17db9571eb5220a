"""The graph-refinement switch through the CLI, the pipeline (in process and on workers),
the JSON record and the service protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dacon_engine.jobs.cli import build_parser, main
from dacon_engine.protocol import ProtocolError, check_request
from tests.support.clips import make_shot


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    return make_shot(tmp_path / "shot", n=2)


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


@pytest.mark.parametrize("flag,want", [([], True), (["--graph-refine"], True),
                                       (["--no-graph-refine"], False)])
def test_cli_switch_reaches_the_record(shot, tmp_path, flag, want):
    out = tmp_path / "out"
    argv = ["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]), "--out",
            str(out), "--model", "baseline", *flag]
    assert build_parser().parse_args(argv).graph_refine is want
    assert main(argv) == 0
    recs = records(out)
    assert len(recs) == 2
    for r in recs:
        assert r["matching"] == {"graph_refine": want, "mirror": True,
                                 "mirrored": r["matching"]["mirrored"]}
        assert isinstance(r["matching"]["mirrored"], bool)


def test_workers_get_the_switch_and_the_reference_graphs(shot, tmp_path):
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                     "--out", str(out), "--model", "baseline", "--workers", workers]) == 0
        outs[workers] = records(out)
    for one, two in zip(outs["1"], outs["2"]):
        assert two["matching"] == one["matching"]
        assert {"graph_refine": True, "mirror": True}.items() <= two["matching"].items()
        assert [s["color"] for s in one["segments"]] == [s["color"] for s in two["segments"]]
        assert [s["confidence"] for s in one["segments"]] == \
            [s["confidence"] for s in two["segments"]]


def test_protocol_field_defaults_on_and_must_be_a_boolean():
    req, unknown = check_request({"type": "colorize", "targets": ["a"], "out": "o"})
    assert req["graph_refine"] is True and unknown == []
    req, _ = check_request({"type": "colorize", "targets": ["a"], "out": "o",
                            "graph_refine": False})
    assert req["graph_refine"] is False
    with pytest.raises(ProtocolError, match="graph_refine"):
        check_request({"type": "colorize", "targets": ["a"], "out": "o", "graph_refine": 1})


def test_stage_workers_build_graphs_only_with_the_switch(shot):
    from dacon_engine.jobs import stages
    from dacon_engine.options import ColorizeOptions

    for refine in (True, False):
        settings = {"options": ColorizeOptions.from_flat(model="baseline", device="cpu",
                                                         graph_refine=refine), "spec": None}
        frame, sent, graph, timings = stages._prepare(settings, str(shot["lines"][0]))
        assert (graph is not None) is refine and ("graph" in timings) is refine
        if refine:
            assert graph.adjacency.nnz > 0 and graph.n_segments == frame.n_segments
