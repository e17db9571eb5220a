#!/usr/bin/env python
"""The default model's network on the CPU under each candidate runtime, side by side.

One 1920x1920 frame (PaintBucket 0242 from ../shared, else a synthetic one) is prepared as
the engine does (composite, widen, resize to the U-Net input); each variant then runs the
U-Net (pre-final map, as inference does) in interleaved rounds, so machine noise hits all
of them alike. Printed: median and min ms per frame, and the largest difference from
float32 eager. Variants whose package is missing are skipped (ONNX Runtime, OpenVINO are
not engine dependencies: ``pip install --target DIR onnxruntime openvino onnx`` and put
DIR on PYTHONPATH to include them).

    .venv/bin/python scripts/bench_runtimes.py [--rounds 7] [--variants fp32 bf16 ...]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "paintbucket_0242"
VARIANTS = ("fp32", "channels_last", "bf16", "bf16_channels_last", "compile", "compile_bf16",
            "onnxruntime", "openvino_f32", "openvino_bf16")


def _input(net) -> torch.Tensor:
    from dacon_engine.fileio.images import read_image
    from dacon_engine.model.featurizer import net_inputs

    if (REAL / "line.png").is_file():
        line = read_image(REAL / "line.png")
    else:
        from dacon_engine import synth

        line = synth.make_clip(7, n_frames=1, size=1920).frames[0].line
    return net_inputs(net, line)["unet"]


def _onnx(unet: torch.nn.Module, x: torch.Tensor, folder: str) -> str:
    class Pre(torch.nn.Module):
        def __init__(self, m: torch.nn.Module):
            super().__init__()
            self.m = m

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.m(t, final=False)

    path = str(Path(folder) / "unet.onnx")
    with torch.no_grad():
        torch.onnx.export(Pre(unet), (x,), path, dynamo=False, opset_version=17)
    return path


def build(name: str, unet: torch.nn.Module, x: torch.Tensor, folder: str
          ) -> Callable[[], torch.Tensor]:
    """A no-argument callable running ``unet`` on ``x`` under variant ``name``."""
    bf16 = torch.autocast("cpu", dtype=torch.bfloat16)
    if name == "fp32":
        return lambda: unet(x, final=False)
    if name in ("channels_last", "bf16_channels_last"):
        cl = copy.deepcopy(unet).to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)

        def run() -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16,
                                enabled=name == "bf16_channels_last"):
                return cl(xc, final=False).float().contiguous()
        return run
    if name == "bf16":
        def run_bf16() -> torch.Tensor:
            with bf16:
                return unet(x, final=False).float()
        return run_bf16
    if name.startswith("compile"):
        compiled = torch.compile(lambda t: unet(t, final=False))
        amp = name == "compile_bf16"

        def run_compiled() -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                return compiled(x).float()
        return run_compiled
    path = _onnx(unet, x, folder)
    xn = x.numpy()
    if name == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = torch.get_num_threads()
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        iname = sess.get_inputs()[0].name
        return lambda: torch.from_numpy(sess.run(None, {iname: xn})[0])
    import openvino as ov

    prec = "f32" if name == "openvino_f32" else "bf16"
    core = ov.Core()
    model = core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": prec,
                                             "INFERENCE_NUM_THREADS": torch.get_num_threads()})
    return lambda: torch.from_numpy(model(xn)[0].copy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    from dacon_engine.model import build_featurizer

    torch.manual_seed(0)
    net = build_featurizer(args.model, device="cpu").net
    unet = net.unet.eval()
    with torch.no_grad():
        x = _input(net)
    runs: dict[str, Callable[[], torch.Tensor]] = {}
    setup: dict[str, float] = {}
    ref = None
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            t0 = time.perf_counter()
            try:
                fn = build(name, unet, x, tmp)
                with torch.no_grad():
                    out = fn()  # warm-up (compilation happens here)
            except ImportError as e:
                print(f"{name:<20} skipped ({e})")
                continue
            setup[name] = time.perf_counter() - t0
            runs[name] = fn
            ref = out if name == "fp32" else ref
        times: dict[str, list[float]] = {n: [] for n in runs}
        diffs: dict[str, float] = {}
        with torch.no_grad():
            for _ in range(args.rounds):
                for name, fn in runs.items():
                    t0 = time.perf_counter()
                    out = fn()
                    times[name].append(time.perf_counter() - t0)
                    if ref is not None:
                        diffs[name] = float((out.float() - ref).abs().max())
    scale = float(ref.abs().max()) if ref is not None else 1.0
    print(f"U-Net input {tuple(x.shape)}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.rounds} interleaved rounds")
    print(f"{'variant':<20} {'median ms':>10} {'min ms':>8} {'setup s':>8} "
          f"{'max |diff| / max |fp32|':>24}")
    for name, ts in times.items():
        print(f"{name:<20} {statistics.median(ts) * 1e3:>10.0f} {min(ts) * 1e3:>8.0f} "
              f"{setup[name]:>8.1f} {diffs.get(name, float('nan')) / scale:>24.4f}")


if __name__ == "__main__":
    main()
