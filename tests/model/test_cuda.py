"""The engine on a CUDA GPU: the same answers as on the CPU, the CLI and training on cuda.

Skipped where torch sees no CUDA GPU (the CI machine); run on a GPU machine with
``.venv/bin/python -m pytest tests/test_cuda.py`` (or the whole suite).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from tests.support.clips import make_shot

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.fixture(scope="module")
def frames():
    from dacon_engine import synth

    a, b = synth.make_pair(2_000_000_123, 512, "consecutive")
    return a, b


def test_default_model_features_and_colors_match_the_cpu(frames):
    ref, tgt = frames
    out = {}
    for device in ("cpu", "cuda"):
        c = Colorizer("default", device=device)
        assert c.featurizer.device.type == device
        c.add_reference(ref.gt, ref.line)
        (res,) = c.colorize([tgt.line])
        out[device] = res.assignment.colors, c.features([res.frame])[0].float().cpu()
    (cpu_colors, cpu_feat), (gpu_colors, gpu_feat) = out["cpu"], out["cuda"]
    cos = torch.nn.functional.cosine_similarity(cpu_feat, gpu_feat, dim=1)
    assert float(cos.min()) > 0.99, float(cos.min())
    same = np.all(cpu_colors == gpu_colors, axis=1).mean()
    assert same >= 0.98, same


def test_cli_colorize_on_cuda_writes_what_the_cpu_writes(tmp_path, capsys):
    shot = make_shot(tmp_path / "shot", n=3, size=128)
    images = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        code = main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                     "--ref-line", str(shot["ref_line"]), "--out", str(out), "--quiet",
                     "--device", device])
        assert code == 0, capsys.readouterr().err
        images[device] = {p.name: read_image(p) for p in sorted(out.glob("*.png"))}
        assert json.loads(next(out.glob("*.json")).read_text())["n_segments"] > 3
    assert images["cpu"].keys() == images["cuda"].keys() and len(images["cpu"]) == 3
    for name, img in images["cpu"].items():
        assert np.mean(np.all(img == images["cuda"][name], axis=-1)) > 0.99, name


def test_training_steps_on_cuda_with_bf16(tmp_path):
    run = tmp_path / "run"
    code = main(["train", "--run", str(run), "--device", "cuda", "--steps", "3", "--batch", "2",
                 "--size", "128", "--unet-base", "4", "--unet-input", "128", "--amp", "auto",
                 "--new-shape-fraction", "0.5", "--data-workers", "2", "--quiet",
                 "--export", str(tmp_path / "m.pt")])
    assert code == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["device"] == "cuda"
    rows = [json.loads(x) for x in (run / "train.jsonl").read_text().splitlines()]
    assert rows and all(np.isfinite(r["loss"]) for r in rows if "loss" in r)
    c = Colorizer(Path(tmp_path / "m.pt"), device="cuda")
    assert c.featurizer.device.type == "cuda"


@pytest.mark.parametrize("mode", ["keyframe", "consecutive"])
def test_stage_workers_feed_the_gpu_model_like_one_process(tmp_path, capsys, mode):
    """On a GPU, --workers splits every mode into stage workers feeding the model process
    (pooling matrices built on the GPU): the frames equal the one-process run's."""
    from dacon_engine.jobs.pipeline import ColorizeJob

    shot = make_shot(tmp_path / "shot", n=5, size=128)
    images, layouts = {}, {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        job = ColorizeJob.create(shot["lines"], out=out, refs=[shot["ref"]],
                                 ref_lines=[shot["ref_line"]], device="cuda", mode=mode,
                                 workers=workers, quiet=True)
        layouts[workers] = job.run().layout
        images[workers] = {p.name: read_image(p) for p in sorted(out.glob("*.png"))}
    assert layouts == {1: None, 2: "stages"}
    assert images[1].keys() == images[2].keys() and len(images[1]) == 5
    for name, img in images[1].items():
        assert np.mean(np.all(img == images[2][name], axis=-1)) > 0.99, name


@pytest.mark.parametrize("n, hw", [(39, (64, 60)), (300, (256, 256))])  # dense, sparse
def test_pooling_matrix_built_on_the_gpu_equals_the_cpus(n, hw):
    from dacon_engine.model.pooling import plan_pooling, pool_segments

    rng = np.random.default_rng(0)
    labels = rng.integers(0, n + 1, (1100, 1030)).astype(np.int32)
    plan = plan_pooling(labels, n)
    feat = torch.randn(16, *hw, generator=torch.Generator().manual_seed(0))
    cpu = pool_segments(feat, plan)
    gpu = pool_segments(feat.cuda(), plan)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
