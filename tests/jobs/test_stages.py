"""Stage workers feeding the model process (``--workers N``): prepared frames, failures."""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from dacon_engine.errors import DaconError
from dacon_engine.jobs import stages
from dacon_engine.model.featurizer import FrameInputs, prepare_frame
from dacon_engine.model.registry import build_featurizer
from dacon_engine.options import ColorizeOptions
from dacon_engine.segmentation.segments import segment_frame
from tests.support.clips import make_shot, temp_files
from tests.support.processes import alive, children, wait

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_a_prepared_frame_gives_the_features_of_its_pixels(tmp_path):
    """What a stage worker sends (network inputs + pooling plan, pickled, no pixels) gives
    the features the featurizer computes from the frame itself, to the bit."""
    shot = make_shot(tmp_path / "shot", n=2, size=160)
    feat = build_featurizer("default", device="cpu")
    frames = [segment_frame(p) for p in shot["lines"]]
    sent = [dataclasses.replace(f, line=np.zeros((0, 0), np.uint8),
                                labels=np.zeros((0, 0), np.int32),
                                prepared=pickle.loads(pickle.dumps(
                                    prepare_frame(feat.net.input_spec, f))))
            for f in frames]
    assert all(isinstance(s.prepared, FrameInputs) for s in sent)
    plan = sent[0].prepared.plan
    assert plan.seg.dtype == torch.int64 and plan.n_segments == frames[0].n_segments
    for a, b in zip(feat.segment_features(frames), feat.segment_features(sent)):
        assert torch.equal(a, b)


def test_the_worker_side_ships_no_pixels_for_a_network_model(tmp_path):
    shot = make_shot(tmp_path / "shot", n=1)
    feat = build_featurizer("default", device="cpu")
    settings = {"options": ColorizeOptions.from_flat(device="cpu"),
                "spec": feat.net.input_spec}
    frame, sent, graph, timings = stages._prepare(settings, str(shot["lines"][0]))
    assert sent.labels.size == 0 and sent.line.size == 0 and frame.labels.size > 0
    assert sent.n_segments == frame.n_segments > 0 and graph is not None
    assert set(timings) == {"segment", "graph", "prepare"}
    # small enough to pickle through a pipe: inputs + a compact plan
    assert len(pickle.dumps(sent)) < 2 * sum(v.numel() * 4 for v in
                                             sent.prepared.inputs.values()) + 100_000


def _settings(tmp_path) -> dict:
    return {"options": ColorizeOptions.from_flat(model="baseline", device="cpu"),
            "spec": None, "out_dir": tmp_path / "out", "formats": ("png", "json"),
            "references": [], "overwrite": False, "palette": None}


def test_a_frame_a_worker_cannot_read_fails_the_feed_naming_it(tmp_path):
    shot = make_shot(tmp_path / "shot", n=2)
    bad = tmp_path / "shot" / "line" / "0002.png"
    bad.write_bytes(b"not a png")
    with stages.StageWorkers(2, shot["lines"], _settings(tmp_path), ahead=4) as feed:
        feed.start([0, 1])
        assert wait(lambda: 1 in feed.failed)  # frame 1 failed, maybe before frame 0 is done
        frame, _ = feed.load(0)  # frame 0 still comes
        assert frame.n_segments > 0
        with pytest.raises(DaconError, match="0002.png: cannot read image"):
            feed.load(1)
        pids = [p.pid for p in feed.procs]
    assert not any(alive(p) for p in pids)  # closed with the feed


def test_a_worker_that_dies_fails_the_feed_in_one_line(tmp_path):
    shot = make_shot(tmp_path / "shot", n=4)
    with stages.StageWorkers(2, shot["lines"], _settings(tmp_path), ahead=1) as feed:
        feed.start([0, 1, 2, 3])
        feed.load(0)
        os.kill(feed.procs[1].pid, signal.SIGKILL)  # frame 1's worker
        with pytest.raises(DaconError, match=r"a stage worker process ended \(exit code -9\)"):
            feed.load(1)
        with pytest.raises(DaconError, match="stage worker"):  # and every later call
            feed.write(0, {})


def _is_stage_worker(pid: int) -> bool:
    """A spawned multiprocessing child, not multiprocessing's resource tracker."""
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return False
    return "spawn_main" in cmd and "resource_tracker" not in cmd


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_stage_worker_fails_the_job_and_resume_finishes_it(tmp_path):
    """kill -9 of one stage worker (out of memory, an operator): the job stops with one
    line and a non-zero exit, every output left is whole, --resume completes the shot."""
    shot = make_shot(tmp_path / "long", n=40)
    out = tmp_path / "out"
    cmd = [PY, "-m", "dacon_engine.jobs.cli", "colorize", str(shot["root"] / "line"),
           "--ref", str(shot["ref"]), "--ref-line", str(shot["ref_line"]), "--out", str(out),
           "--quiet", "--device", "cpu", "--mode", "consecutive"]
    proc = subprocess.Popen([*cmd, "--workers", "2"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait(lambda: len(list(out.glob("*.json"))) >= 2), proc.stderr.read()
        workers = [w for w in children(proc.pid) if _is_stage_worker(w)]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "stage worker process ended" in err and "--resume" in err
    assert temp_files(out) == []
    assert wait(lambda: not any(alive(w) for w in workers), 10)
    done = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*.png"))) == 40 and temp_files(out) == []


def test_the_job_says_how_it_was_split(capsys, tmp_path):
    """The summary (service ``job_done``) and the CLI's last line name the layout."""
    from dacon_engine.jobs.cli import main
    from dacon_engine.jobs.pipeline import ColorizeJob

    shot = make_shot(tmp_path / "shot", n=3)
    args = [str(shot["root"] / "line"), "--ref", str(shot["ref"]), "--ref-line",
            str(shot["ref_line"]), "--device", "cpu", "--quiet"]
    assert main(["colorize", *args[:-1], "--out", str(tmp_path / "a"), "--mode",
                 "consecutive", "--workers", "2"]) == 0
    assert "colorized 3 of 3 frames by 2 processes feeding the model in" in \
        capsys.readouterr().out
    job = ColorizeJob.create(shot["lines"], out=tmp_path / "b", refs=[shot["ref"]],
                             ref_lines=[shot["ref_line"]], device="cpu", workers=2,
                             quiet=True)
    summary = job.run().as_dict()
    assert (summary["workers"], summary["layout"], summary["frames_done"]) == (2, "frames", 3)
    one = ColorizeJob.create(shot["lines"], out=tmp_path / "c", refs=[shot["ref"]],
                             ref_lines=[shot["ref_line"]], device="cpu", quiet=True)
    assert (lambda d: (d["workers"], d["layout"]))(one.run().as_dict()) == (1, None)


def test_a_stopped_worker_skips_queued_prepares_but_finishes_writes(tmp_path):
    """Closing the feed (cancel, a stop signal) sets the stop event: frames still queued to
    be prepared are skipped, so the workers end at once; a write already ordered is done."""
    import queue
    import threading

    from dacon_engine.colorizer import Colorizer

    shot = make_shot(tmp_path / "shot", n=3)
    settings = _settings(tmp_path)
    settings["out_dir"].mkdir()
    inbox, outbox, stop = queue.Queue(), queue.Queue(), threading.Event()
    worker = threading.Thread(target=stages.serve, args=(inbox, outbox, stop, settings))
    worker.start()
    try:
        inbox.put(("prepare", 0, str(shot["lines"][0])))
        kind, index, frame, graph, _ = outbox.get(timeout=60)
        assert (kind, index) == ("ready", 0) and frame.n_segments > 0
        c = Colorizer("baseline", device="cpu")
        c.add_reference(shot["ref"], shot["ref_line"])
        result = next(iter(c.colorize([frame])))
        stop.set()
        for order in [("prepare", 1, str(shot["lines"][1])),
                      ("write", 0, {"name": "0001", "assignment": result.assignment,
                                    "model_name": "m", "matching": {}, "precision": None}),
                      ("prepare", 2, str(shot["lines"][2]))]:
            inbox.put(order)
    finally:
        inbox.put(None)
        worker.join(60)
    kind, index, written = outbox.get_nowait()
    assert (kind, index) == ("written", 0) and outbox.empty()  # frames 1 and 2 skipped
    assert sorted(p.name for p in written.paths) == ["0001.json", "0001.png"]
