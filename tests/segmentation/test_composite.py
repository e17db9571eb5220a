"""Line art composited on white paper, as the model sees it."""

from __future__ import annotations

import numpy as np

from dacon_engine.segmentation.lineart import composite_rgb


def test_composite_on_white_ignores_rgb_under_transparency():
    px = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [0, 0, 0, 128], [200, 100, 50, 255]]],
                  np.uint8)
    out = composite_rgb(px)
    assert out.shape == (1, 4, 3)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 0, 0]
    assert out[0, 2].tolist() == [127, 127, 127]
    assert out[0, 3].tolist() == [200, 100, 50]


def test_opaque_art_is_returned_as_is():
    px = np.full((2, 3, 4), 255, np.uint8)
    px[..., :3] = (10, 20, 30)
    assert (composite_rgb(px) == px[..., :3]).all()
