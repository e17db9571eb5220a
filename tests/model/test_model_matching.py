"""A (tiny, random) DACoN network behind the Colorizer: any number of references, all
modes, confidence in the outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dacon_engine.colorizer import Colorizer
from dacon_engine.model.featurizer import DaconFeaturizer
from dacon_engine.model.network import DaconConfig, DaconNet
from tests.support.art import draw


@pytest.fixture(scope="module")
def featurizer() -> DaconFeaturizer:
    torch.manual_seed(0)
    net = DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64, feat_dim=16))
    return DaconFeaturizer(net, "cpu", name="tiny-random")


@pytest.mark.parametrize("n_refs", [1, 2, 7])
def test_bank_spans_all_references(featurizer, n_refs):
    c = Colorizer(featurizer)
    refs = [draw(96, dx=3 * k - 9, scale=1 + 0.03 * k) for k in range(n_refs)]
    for line, gt in refs:
        c.add_reference(gt, line)
    pick = n_refs // 2
    line, gt = refs[pick]
    (res,) = list(c.colorize([line]))
    bank = c._bank()
    assert len(bank) == sum(r.frame.n_segments for r in c.references)
    # an exact copy of reference `pick` matches itself, segment by segment
    assert set(res.assignment.ref_index.tolist()) == {pick}
    np.testing.assert_array_equal(res.assignment.ref_segment,
                                  np.arange(1, res.frame.n_segments + 1))
    inside = res.frame.labels > 0
    assert np.all(res.image()[inside] == gt[inside])
    assert np.allclose(res.assignment.similarity, 1.0, atol=1e-5)


@pytest.mark.parametrize("mode", ["keyframe", "consecutive", "nearest"])
def test_modes_with_network(featurizer, mode, tmp_path):
    from dacon_engine.outputs.write import write_frame_outputs

    c = Colorizer(featurizer)
    line, gt = draw(96)
    c.add_reference(gt, line, name="ref_0000")
    targets = [draw(96, dx=k)[0] for k in range(1, 4)]
    results = list(c.colorize(targets, mode=mode, batch_size=2))
    assert sorted(r.index for r in results) == [0, 1, 2]
    for r in results:
        conf = r.assignment.confidence
        assert conf.shape == (r.frame.n_segments,) and np.all((conf >= 0) & (conf <= 1))
        if mode == "keyframe":
            assert set(r.assignment.ref_index.tolist()) == {0}
    write_frame_outputs(tmp_path, "f", results[-1].frame, results[-1].assignment,
                        formats=("png", "json"), model_name=c.model_name,
                        references=["ref_0000", "t0", "t1", "t2"])
    rec = json.loads((tmp_path / "f.json").read_text())
    assert rec["model"] == "tiny-random"
    assert all(0.0 <= s["confidence"] <= 1.0 for s in rec["segments"])
    assert np.asarray(Image.open(tmp_path / "f.png")).shape == (96, 96, 4)
