"""Lines widened before the downscale to the network input (DaconConfig.line_widen): thin
art reaches the network at the line weight of training, whatever width it was drawn at."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dacon_engine.model import DaconConfig, DaconNet, build_featurizer, line_to_rgb01
from dacon_engine.model.featurizer import net_inputs, widen_lines
from dacon_engine.model.network import widen_size


def _net(line_widen: float, unet_input: int = 32, small: int | None = None) -> DaconNet:
    torch.manual_seed(0)
    cfg = DaconConfig(mode="unet", unet_base=4, unet_depth=2, unet_input=unet_input,
                      feat_dim=8, small_frame_input=small, line_widen=line_widen,
                      antialias=True)
    return DaconNet(cfg).eval()


def _one_px_line(h: int = 64, w: int = 64) -> np.ndarray:
    """A 1-px vertical black line on transparent paper whose hidden RGB is black."""
    a = np.zeros((h, w, 4), np.uint8)
    a[:, w // 2] = (0, 0, 0, 255)
    return a


def test_window_grows_with_the_downscale():
    assert widen_size(0.5, 1920, 512) == 2  # the shipped model on a 1920 frame
    assert widen_size(0.5, 3840, 512) == 4
    assert widen_size(0.8, 1920, 512) == 3
    assert widen_size(0.5, 960, 512) == 1 and widen_size(0.5, 512, 512) == 1
    assert _net(0.0).widen_window(1920, 1920) == 1  # off
    assert _net(0.5).widen_window(96, 128) == 2  # longest side, the U-Net input's 32
    # frames under unet_input go to small_frame_input: 2 x 500 / 384 -> 3 (not 2 x 500 / 512)
    assert _net(2.0, unet_input=512, small=384).widen_window(500, 400) == 3


def test_widen_lines_composites_over_white_then_takes_the_minimum():
    out = widen_lines(_one_px_line(), 2)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    dark = (out < 128).all(axis=2)
    assert dark[:, 32:34].all() and dark.sum() == 2 * 64  # 1 px -> 2 px, nothing else
    assert (out[:, :32] == 255).all()  # transparent paper is white, whatever RGB it stores
    a = _one_px_line()
    a[:, 10] = (255, 0, 0, 255)  # a red line stays red
    a[5, 40] = (0, 0, 0, 128)  # half-covered black: about mid grey
    out = widen_lines(a, 3)
    assert (out[:, 9:12] == (255, 0, 0)).all() and (out[:, 13:20] == 255).all()
    assert 120 <= out[5, 41, 0] <= 135
    gray = np.dstack([np.full((8, 8), 0, np.uint8), np.zeros((8, 8), np.uint8)])
    gray[2, 2] = (0, 255)
    g = widen_lines(gray, 2)
    assert g.shape == (8, 8) and (g < 128).sum() == 4
    with pytest.raises(TypeError, match="uint8"):
        widen_lines(gray.astype(np.float32) / 255, 2)


def test_net_inputs_widen_only_when_the_config_asks():
    line = _one_px_line(128, 128)
    plain = _net(0.0).prepare(line_to_rgb01(line).unsqueeze(0))["unet"]
    assert torch.equal(net_inputs(_net(0.0), line)["unet"], plain)
    wide = net_inputs(_net(0.5), line)["unet"]  # 128 -> 32: window 2
    assert wide.shape == plain.shape
    ink = (1 - plain[:, :3]).sum().item()
    assert (1 - wide[:, :3]).sum().item() == pytest.approx(2 * ink, rel=0.05)


def test_training_sees_the_same_inputs():
    from dacon_engine.training.data import TrainFrame
    from dacon_engine.training.loop import frame_features

    line = _one_px_line(128, 128)
    labels = np.ones((128, 128), np.int32)
    labels[:, 64:] = 2
    labels[:, 64] = 0
    f = TrainFrame(line=line, labels=labels, colors=np.zeros((2, 4), np.uint8))
    a = _net(0.0)
    b = _net(0.5)
    b.load_state_dict(a.state_dict())
    fa, _ = frame_features(a, [f], torch.device("cpu"))
    fb, _ = frame_features(b, [f], torch.device("cpu"))
    assert not torch.allclose(fa[0], fb[0])


def test_config_checks_and_old_checkpoints():
    with pytest.raises(ValueError, match="line_widen"):
        DaconConfig.from_dict({"mode": "unet", "line_widen": -0.5})
    old = DaconConfig(mode="unet").to_dict()
    del old["line_widen"]  # a checkpoint written before the field: off
    assert DaconConfig.from_dict(old).line_widen == 0.0


def test_the_shipped_model_widens():
    assert build_featurizer("default").net.config.line_widen == 0.5
