"""Farm chunks: --frames in every mode, --resume, frame-range parsing, OOM fallback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from dacon_engine.jobs.frameranges import parse_frame_ranges, plan_chunks
from tests.support.clips import make_shot, temp_files


def colorize(capsys, shot: dict, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(out), "--quiet", *extra])
    return code, capsys.readouterr().err.strip()


def pixels(out: Path) -> dict[str, np.ndarray]:
    return {p.stem: read_image(p) for p in sorted(out.glob("*.png"))}


def test_parse_frame_ranges():
    assert parse_frame_ranges("101-148") == [(101, 148)]
    assert parse_frame_ranges("1-3, 7 ,9-9") == [(1, 3), (7, 7), (9, 9)]
    for bad in ("", "a-b", "5-", "-3", "1--2", "3-1", "1.5"):
        with pytest.raises(DaconError, match="--frames"):
            parse_frame_ranges(bad)
    assert plan_chunks(1, 10, 4) == [(1, 4), (5, 8), (9, 10)]
    assert plan_chunks(5, 5, 3) == [(5, 5)]


@pytest.mark.parametrize("mode,ref_frame", [("keyframe", 0), ("consecutive", 0),
                                            ("nearest", 9)])
def test_chunked_runs_equal_one_run(capsys, tmp_path, mode, ref_frame):
    """A shot split into chunks run one after another gives the same frames as one run
    (chained modes continue from the frame before each chunk)."""
    shot = make_shot(tmp_path / "shot", n=8, first=1, ref_frame=ref_frame)
    whole, chunks = tmp_path / "whole", tmp_path / "chunks"
    assert colorize(capsys, shot, whole, "--mode", mode)[0] == 0
    order = ["6-8", "3-5", "1-2"] if mode == "nearest" else ["1-3", "4-6", "7-8"]
    for spec in order:  # nearest propagates from frame 9 downwards: chunks in that order
        code, err = colorize(capsys, shot, chunks, "--mode", mode, "--frames", spec)
        assert code == 0, err
    a, b = pixels(whole), pixels(chunks)
    assert list(a) == list(b) == [f"{k:04d}" for k in range(1, 9)]
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ja = json.loads((whole / "0005.json").read_text())
    jb = json.loads((chunks / "0005.json").read_text())
    assert [s["color"] for s in ja["segments"]] == [s["color"] for s in jb["segments"]]


def test_chunk_chain_uses_the_previous_frame_only_when_its_output_exists(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=6)
    with_prev, alone = tmp_path / "with_prev", tmp_path / "alone"
    assert colorize(capsys, shot, with_prev, "--mode", "consecutive", "--frames", "1-3")[0] == 0
    assert colorize(capsys, shot, with_prev, "--mode", "consecutive", "--frames", "4-6")[0] == 0
    rec = json.loads((with_prev / "0004.json").read_text())
    assert any(s["reference"] and s["reference"].endswith("0003.png") for s in rec["segments"])
    assert colorize(capsys, shot, alone, "--mode", "consecutive", "--frames", "4-6")[0] == 0
    rec = json.loads((alone / "0004.json").read_text())
    assert all(s["reference"].endswith("0000.png") for s in rec["segments"])
    assert sorted(p.stem for p in alone.glob("*.png")) == ["0004", "0005", "0006"]


def test_frames_errors(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=3)
    out = tmp_path / "out"
    code, err = colorize(capsys, shot, out, "--frames", "50-60")
    assert code == 2 and err == ("dacon: --frames 50-60: no target frame in this range "
                                 "(the targets are frames 1-3)")
    code, err = colorize(capsys, shot, out, "--frames", "3-1")
    assert code == 2 and "--frames '3-1'" in err and "\n" not in err
    code, err = colorize(capsys, shot, out, "--resume", "--overwrite")
    assert code == 2 and "--resume and --overwrite" in err
    assert not out.exists() or not list(out.iterdir())


def test_resume_redoes_only_missing_and_truncated_frames(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=5)
    out = tmp_path / "out"
    assert colorize(capsys, shot, out, "--mode", "consecutive", "--format", "png,exr")[0] == 0
    original = pixels(out)
    (out / "0002.png").unlink()                              # missing
    data = (out / "0004.exr").read_bytes()
    (out / "0004.exr").write_bytes(data[: len(data) // 2])    # truncated
    kept = {s: os.stat(out / f"{s}.png").st_mtime_ns for s in ("0001", "0003", "0005")}
    inode = {s: os.stat(out / f"{s}.json").st_ino for s in ("0001", "0003", "0005")}
    code, err = colorize(capsys, shot, out, "--mode", "consecutive", "--format", "png,exr",
                         "--resume")
    assert code == 0, err
    for s in kept:  # complete frames untouched
        assert os.stat(out / f"{s}.png").st_mtime_ns == kept[s]
        assert os.stat(out / f"{s}.json").st_ino == inode[s]
    assert pixels(out).keys() == original.keys()
    for s, img in pixels(out).items():
        assert np.array_equal(img, original[s]), s
    from dacon_engine.outputs.write import read_exr_outputs

    assert read_exr_outputs(out / "0004.exr")["segment.id"].shape == (96, 96)
    assert temp_files(out) == []
    # without --resume the existing outputs are refused, naming the first one
    code, err = colorize(capsys, shot, out)
    assert code == 2 and err.endswith("0001.json: already exists (use --overwrite to replace it)")


def test_resume_prints_what_it_kept(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=3)
    out = tmp_path / "out"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--out", str(out)]) == 0
    (out / "0003.json").write_text("{")
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--out", str(out), "--resume"]) == 0
    assert "colorized 1 of 3 frames, 2 kept by --resume" in capsys.readouterr().out


class FlakyGPU:
    """A featurizer that 'runs out of GPU memory' until it is degraded to the CPU."""

    def __init__(self, inner, fail_until: str = "cpu"):
        self.inner = inner
        self.name = inner.name
        self.batch_size = 4
        self.pool_cap = 512
        self.device = torch.device("cuda")
        self.fail_until = fail_until
        self.calls: list[tuple[int, int | None, str]] = []

    def to_device(self, device):
        self.device = torch.device(device)

    def segment_features(self, frames):
        self.calls.append((self.batch_size, self.pool_cap, self.device.type))
        if self.device.type != self.fail_until:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.segment_features(frames)

    def similarity(self, a, b):
        return self.inner.similarity(a, b)


def test_out_of_memory_falls_back_step_by_step_and_gives_the_same_result(tmp_path):
    from dacon_engine.colorizer import Colorizer
    from dacon_engine.model.registry import build_featurizer

    shot = make_shot(tmp_path / "shot", n=2)
    plain = Colorizer("default", device="cpu")
    plain.add_reference(shot["ref"], shot["ref_line"])
    want = [r.assignment.colors for r in plain.colorize(shot["lines"])]
    logs: list[str] = []
    flaky = FlakyGPU(build_featurizer("default", device="cpu"))
    c = Colorizer(flaky, log=logs.append)
    c.add_reference(shot["ref"], shot["ref_line"])
    got = [r.assignment.colors for r in c.colorize(shot["lines"])]
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
    assert flaky.calls[:4] == [(4, 512, "cuda"), (1, 512, "cuda"), (1, 256, "cuda"),
                               (1, 256, "cpu")]
    assert [m.split("retrying with ")[1] for m in logs] == ["batch size 1", "pooling grid 256",
                                                             "the CPU"]
    # nothing left to try: a clear one-line error, not a traceback
    stuck = FlakyGPU(build_featurizer("default", device="cpu"), fail_until="never")
    c = Colorizer(stuck, log=logs.append)
    with pytest.raises(DaconError, match="out of memory on an in-memory frame even on the CPU"):
        c.add_reference(read_image(shot["ref"]), read_image(shot["ref_line"]))


def test_service_job_survives_out_of_memory_and_says_so(tmp_path, monkeypatch):
    """An injected OOM inside a service job: log events name the fallback, the job ends
    done, and the model's settings are restored for the next job."""
    import io
    import threading

    import dacon_engine.model.registry as registry
    from dacon_engine.jobs.service import Service
    from dacon_engine.protocol import decode, encode

    shot = make_shot(tmp_path / "shot", n=2)
    flaky = FlakyGPU(registry.build_featurizer("default", device="cpu"))
    monkeypatch.setattr(registry, "build_featurizer", lambda *a, **k: flaky)
    r_fd, w_fd = os.pipe()
    out = io.BytesIO()
    service = Service(os.fdopen(r_fd, "rb"), out, exit_on_eof=False)
    thread = threading.Thread(target=service.run)
    thread.start()
    with os.fdopen(w_fd, "wb") as w:
        w.write(encode({"type": "colorize", "id": "j1", "targets": [str(p) for p in shot["lines"]],
                        "references": [{"color": str(shot["ref"]), "line": None}],
                        "out": str(tmp_path / "out")}))
    thread.join(120)
    events = [decode(line) for line in out.getvalue().splitlines()]
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert any("out of memory" in m and "the CPU" in m for m in logs)
    done = [e for e in events if e["type"] == "job_done"]
    assert done and done[0]["status"] == "done" and done[0]["result"]["frames_done"] == 2
    assert (flaky.batch_size, flaky.pool_cap, flaky.device.type) == (4, 512, "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_one_line_and_leaves_nothing(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=1)
    out = tmp_path / "out"
    code, err = colorize(capsys, shot, out, "--device", "cuda")
    assert code == 2 and err == ("dacon: --device cuda: no CUDA GPU is usable by torch here "
                                 "(this machine has: auto, cpu)")
    assert not out.exists()
    code = main(["train", "--run", str(tmp_path / "run"), "--device", "cuda", "--steps", "1"])
    assert code == 2 and "--device cuda" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_failed_check_removes_the_output_folder_it_made(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=2)
    (shot["root"] / "line" / "0002.png").write_bytes(b"not a png")
    out = tmp_path / "new" / "out"
    code, err = colorize(capsys, shot, out)
    assert code == 2 and err.endswith("0002.png: cannot read image (not a recognized image format)")
    assert not out.exists()


@pytest.mark.parametrize("extra,ref_frame,layout", [
    ((), 0, "frames"), (("--ref-zoom", "2"), 0, "frames"), ((), 0, "stages"),
    (("--mode", "consecutive", "--batch-size", "2"), 0, "stages"),
    (("--mode", "nearest", "--model", "baseline"), 3, "stages")])
def test_workers_give_the_same_frames_as_one_process(capsys, tmp_path, monkeypatch, extra,
                                                     ref_frame, layout):
    """Whole-frame workers (keyframe on the CPU) and stage workers feeding the model
    process (a GPU, chained modes; forced here for keyframe): the same pixels and records
    (nearest chains outward from frame 3 here; the baseline model ships whole frames)."""
    from dacon_engine.jobs import pipeline

    seen = []
    real = pipeline.worker_layout
    monkeypatch.setattr(pipeline, "worker_layout",
                        lambda mode, device: seen.append(real(mode, device)) or layout)
    shot = make_shot(tmp_path / "shot", n=5, ref_frame=ref_frame)
    one, two = tmp_path / "one", tmp_path / "two"
    assert colorize(capsys, shot, one, "--format", "png,exr", *extra)[0] == 0
    code, err = colorize(capsys, shot, two, "--format", "png,exr", "--workers", "2", *extra)
    assert code == 0, err
    a, b = pixels(one), pixels(two)
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    # on a GPU (bf16 autocast) the two batchings may differ in a similarity's second
    # digit (cuDNN picks kernels per batch shape; on an H100 1e-3 was too tight); on the
    # CPU the records are identical
    tol = 0.02 if torch.cuda.is_available() else 0.0
    for k in a:
        ja = json.loads((one / f"{k}.json").read_text())
        jb = json.loads((two / f"{k}.json").read_text())
        assert _same(ja, jb, tol), (k, ja, jb)
    assert temp_files(two) == []
    assert len(seen) == 1  # the job split itself over processes


def test_worker_layout_by_mode_and_device():
    from dacon_engine.jobs.pipeline import worker_layout

    assert worker_layout("keyframe", "cpu") == "frames"
    assert worker_layout("keyframe", "cuda") == worker_layout("keyframe", "cuda:1") == "stages"
    assert worker_layout("consecutive", "cpu") == worker_layout("nearest", "cpu") == "stages"


def _same(a, b, tol: float) -> bool:
    """Equal JSON values, floats within ``tol``."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tol
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k], tol)
                                                                   for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y, tol)
                                                               for x, y in zip(a, b))
    return a == b


def test_workers_chain_from_an_earlier_chunk_like_one_process(capsys, tmp_path):
    """A consecutive chunk whose first frame chains from the previous chunk's outputs
    (read back in the model process) gives the frames of one unbroken run."""
    shot = make_shot(tmp_path / "shot", n=6)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert colorize(capsys, shot, whole, "--mode", "consecutive")[0] == 0
    assert colorize(capsys, shot, parts, "--mode", "consecutive", "--frames", "1-3")[0] == 0
    code, err = colorize(capsys, shot, parts, "--mode", "consecutive", "--frames", "4-6",
                         "--workers", "2")
    assert code == 0, err
    a, b = pixels(whole), pixels(parts)
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_workers_refused_where_they_cannot_work(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=2)
    code, err = colorize(capsys, shot, tmp_path / "o", "--workers", "2", "--contact-sheet")
    assert code == 2 and "--workers 2: the contact sheet needs --workers 1" in err
    code, err = colorize(capsys, shot, tmp_path / "o", "--workers", "0")
    assert code == 2 and "--workers: 0: must be a whole number >= 1" in err
    assert not (tmp_path / "o").exists()


def test_references_keep_only_what_matching_needs(tmp_path):
    from dacon_engine.colorizer import Colorizer

    shot = make_shot(tmp_path / "shot", n=2)
    full = Colorizer("default", device="cpu")
    lean = Colorizer("default", device="cpu", keep_reference_images=False)
    for c in (full, lean):
        c.add_reference(shot["ref"], shot["ref_line"])
    assert lean.references[0].frame.line.size == 0 and full.references[0].frame.line.size > 0
    assert lean.references[0].frame.n_segments == full.references[0].frame.n_segments
    a = [r.assignment.colors for r in full.colorize(shot["lines"])]
    b = [r.assignment.colors for r in lean.colorize(shot["lines"])]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_line_options_reach_the_segmentation_of_every_path(capsys, tmp_path):
    shot = make_shot(tmp_path / "shot", n=2)
    for extra in ([], ["--workers", "2"]):
        out = tmp_path / f"o{len(extra)}"
        code, err = colorize(capsys, shot, out, "--line-mode", "adaptive", *extra)
        assert code == 0, err
        rec = json.loads((out / "0001.json").read_text())
        assert rec["line_art"]["line_mode"] == "adaptive"


@pytest.mark.parametrize("mode", ["keyframe", "consecutive"])
def test_pipelined_job_equals_a_plain_sequential_loop(tmp_path, mode):
    """The job overlaps reading, the model and writing in threads; its files must be the
    ones a plain one-frame-at-a-time loop over the API writes."""
    from dacon_engine.colorizer import Colorizer
    from dacon_engine.jobs.pipeline import ColorizeJob
    from dacon_engine.outputs.write import write_frame_outputs

    shot = make_shot(tmp_path / "shot", n=6)
    job = ColorizeJob.create(shot["lines"], out=tmp_path / "job", refs=[shot["ref"]],
                             ref_lines=[shot["ref_line"]], mode=mode, batch_size=3,
                             model="default", device="cpu", quiet=True)
    job.run()
    c = Colorizer("default", device="cpu")
    c.add_reference(shot["ref"], shot["ref_line"], name=str(shot["ref"]))
    names = c.reference_names() + ([str(p) for p in shot["lines"]] if mode != "keyframe" else [])
    for r in c.colorize(shot["lines"], mode, batch_size=1):  # nothing overlapped
        write_frame_outputs(tmp_path / "loop", r.name, r.frame, r.assignment,
                            formats=("json", "png"), model_name=c.model_name, references=names,
                            matching={"graph_refine": c.graph_refine, "mirror": c.mirror,
                                      "mirrored": r.mirrored},
                            precision=c.running_precision)
    for p in sorted((tmp_path / "job").iterdir()):
        assert p.read_bytes() == (tmp_path / "loop" / p.name).read_bytes(), p.name
