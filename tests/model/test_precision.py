"""--precision: auto = bf16 where the device runs it natively, fp32 elsewhere; an emulated
bf16 is refused up front; the network runs in the precision resolved (pooling in float32)
and the JSON record says which ran. Native bf16 is faked by monkeypatching the detection,
so these run the same on any CPU."""

from __future__ import annotations

import json

import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.errors import DaconError
from dacon_engine.frames import SegmentedFrame
from dacon_engine.jobs.cli import main
from dacon_engine.model import DaconConfig, DaconFeaturizer, DaconNet, devices
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.art import draw
from tests.support.clips import make_shot

CPU = torch.device("cpu")


@pytest.fixture
def native(monkeypatch):
    """native(True/False): pretend this machine does / does not run bf16 natively."""
    def set_native(value: bool) -> None:
        monkeypatch.setattr(devices, "bf16_is_fast", lambda device: value)
    return set_native


def tiny_featurizer(**kw) -> DaconFeaturizer:
    torch.manual_seed(0)
    net = DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64, feat_dim=16))
    return DaconFeaturizer(net.eval(), "cpu", **kw)


def spy_dtypes(feat: DaconFeaturizer) -> list[torch.dtype]:
    """The dtypes the network's first block computes in, one entry per forward."""
    seen: list[torch.dtype] = []
    feat.net.unet.encoder_blocks[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    return seen


def frame() -> SegmentedFrame:
    line, _ = draw(96)
    labels, n = segment_line_art(line)
    return SegmentedFrame(line, labels, n)


@pytest.mark.parametrize("precision, is_native, expected", [
    ("auto", True, "bf16"), ("auto", False, "fp32"), ("fp32", True, "fp32"),
    ("bf16", True, "bf16")])
def test_resolve_precision(native, precision, is_native, expected):
    native(is_native)
    assert devices.resolve_precision(precision, CPU) == expected


def test_bf16_where_it_would_be_emulated_is_refused_in_one_line(native):
    native(False)
    with pytest.raises(DaconError) as e:
        devices.resolve_precision("bf16", CPU)
    assert str(e.value).startswith("--precision bf16: cpu here has no native bf16")
    assert "\n" not in str(e.value)
    with pytest.raises(DaconError, match="--precision fp16: unknown precision"):
        devices.resolve_precision("fp16", CPU)
    with pytest.raises(DaconError, match="--precision bf16: cpu here has no native bf16"):
        Colorizer(tiny_featurizer(), precision="bf16")


def test_the_real_detection_on_this_machine_is_a_bool():
    assert devices.bf16_is_fast(CPU) in (True, False)
    assert devices.bf16_is_fast(torch.device("meta")) is False


@pytest.mark.parametrize("precision, is_native, dtype", [
    ("auto", True, torch.bfloat16), ("auto", False, torch.float32),
    ("fp32", True, torch.float32), ("bf16", True, torch.bfloat16)])
def test_the_network_runs_in_the_precision_resolved(native, precision, is_native, dtype):
    native(is_native)
    feat = tiny_featurizer(precision=precision)
    seen = spy_dtypes(feat)
    (out,) = feat.segment_features([frame()])
    assert seen == [dtype]
    assert out.dtype == torch.float32  # pooled and normalised in float32 whatever ran
    assert feat.running_precision == ("bf16" if dtype == torch.bfloat16 else "fp32")


def test_the_colorizer_sets_its_precision_on_a_shared_featurizer(native):
    native(True)
    feat = tiny_featurizer()
    seen = spy_dtypes(feat)
    line, gt = draw(96)
    for precision, dtype, name in (("fp32", torch.float32, "fp32"),
                                   ("auto", torch.bfloat16, "bf16"),
                                   ("fp32", torch.float32, "fp32")):
        seen.clear()
        c = Colorizer(feat, precision=precision)
        c.add_reference(gt, line)
        list(c.colorize([frame()]))
        assert seen and set(seen) == {dtype}, precision
        assert c.running_precision == name
    assert Colorizer("baseline").running_precision is None


@pytest.mark.parametrize("flag, is_native, recorded", [
    ("fp32", True, "fp32"), ("auto", True, "bf16"), ("auto", False, "fp32")])
def test_the_cli_records_the_precision_that_ran(native, tmp_path, capsys, flag, is_native,
                                                recorded):
    native(is_native)
    shot = make_shot(tmp_path / "shot", n=2)
    out = tmp_path / "out"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(out), "--quiet",
                 "--device", "cpu", "--precision", flag]) == 0
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert len(records) == 2 and {r["precision"] for r in records} == {recorded}


def test_the_cli_refuses_an_emulated_bf16_before_writing(native, tmp_path, capsys):
    native(False)
    shot = make_shot(tmp_path / "shot", n=1)
    out = tmp_path / "out"
    code = main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--out", str(out), "--device", "cpu", "--precision", "bf16"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--precision bf16: cpu here has no native bf16" in err[0]
    assert not out.exists()
