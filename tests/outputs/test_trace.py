"""dacon_engine.outputs.trace: segment outlines with holes, for vector fills (engine side, no bpy)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.jobs.cli import main
from dacon_engine.outputs.trace import (
    fill_line_pixels,
    main as trace_main,
    trace_labels,
    trace_shot,
)
from dacon_engine.outputs.write import read_exr_outputs
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.clips import make_shot


def rings_line_art(h: int = 96, w: int = 128) -> np.ndarray:
    """A big circle holding two small ones, black 2-px lines on transparent paper."""
    img = np.zeros((h, w, 4), np.uint8)
    cv2.circle(img, (64, 48), 40, (0, 0, 0, 255), 2)
    cv2.circle(img, (50, 40), 10, (0, 0, 0, 255), 2)
    cv2.circle(img, (80, 58), 8, (0, 0, 0, 255), 2)
    return img


def raster(polygons: list[dict], shape: tuple[int, int], scale: int = 4) -> np.ndarray:
    """Fill the traced polygons (holes cut out) at ``scale``x, sample back at pixel centers."""
    h, w = shape
    big = np.zeros((h * scale, w * scale), np.uint8)
    for p in polygons:
        cv2.fillPoly(big, [np.round(np.array(p["outer"]) * scale).astype(np.int32)], 255)
        for hole in p["holes"]:
            cv2.fillPoly(big, [np.round(np.array(hole["points"]) * scale).astype(np.int32)], 0)
    return big[scale // 2::scale, scale // 2::scale] > 0


def test_fill_line_pixels_tiles_the_picture_and_keeps_segments():
    labels, n = segment_line_art(rings_line_art())
    full = fill_line_pixels(labels)
    assert (full > 0).all()
    seg = labels > 0
    assert np.array_equal(full[seg], labels[seg])
    # every line pixel took a label that touches it within the line's width
    assert set(np.unique(full).tolist()) == set(range(1, n + 1))


def test_polygons_rasterize_back_to_their_segments_with_holes():
    labels, n = segment_line_art(rings_line_art())
    assert n == 4  # outside, big disc, two small discs
    colors = np.array([[0, 0, 0, 0], [255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]],
                      np.uint8)
    segs = trace_labels(labels, colors, epsilon=0.5)
    assert [s["id"] for s in segs] == [2, 3, 4]  # paper (transparent) left out, container first
    full = fill_line_pixels(labels)
    for s in segs:
        assert s["color"] == colors[s["id"] - 1].tolist()
        assert len(s["polygons"]) == 1
        mask = raster(s["polygons"], labels.shape)
        truth = full == s["id"]
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.97, (s["id"], iou)
    big = segs[0]["polygons"][0]
    assert len(big["holes"]) == 2
    assert not any(h["clear"] for h in big["holes"])  # colored discs fill them
    # simplified: far fewer points than the outline's pixel count
    assert len(big["outer"]) < 0.5 * np.count_nonzero(cv2.Canny((full == 2).view(np.uint8) * 255,
                                                                  1, 1))


def test_a_hole_showing_transparent_paper_is_clear():
    labels, _ = segment_line_art(rings_line_art())
    colors = np.array([[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 0], [0, 0, 255, 255]],
                      np.uint8)  # the disc at (50, 40) shows the paper: a real hole
    segs = trace_labels(labels, colors)
    assert [s["id"] for s in segs] == [2, 4]
    holes = segs[0]["polygons"][0]["holes"]
    clear = [h for h in holes if h["clear"]]
    assert len(holes) == 2 and len(clear) == 1
    m = cv2.moments(np.array(clear[0]["points"], np.float32))
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    assert abs(cx - 50.5) < 1.0 and abs(cy - 40.5) < 1.0


def test_without_expand_polygons_stay_off_the_lines():
    labels, _ = segment_line_art(rings_line_art())
    segs = trace_labels(labels, None, expand=False, epsilon=0)
    assert "color" not in segs[0]
    union = raster([p for s in segs for p in s["polygons"]], labels.shape)
    assert not (union & (labels == 0)).any()
    assert (union == (labels > 0)).mean() > 0.97


def test_two_hundred_segments_trace_fast():
    h, w = 480, 640
    img = np.zeros((h, w, 4), np.uint8)
    for x in range(0, w, 32):
        img[:, x:x + 2] = (0, 0, 0, 255)
    for y in range(0, h, 24):
        img[y:y + 2, :] = (0, 0, 0, 255)
    labels, n = segment_line_art(img)
    assert n >= 200
    colors = np.tile(np.array([[90, 120, 200, 255]], np.uint8), (n, 1))
    t0 = time.perf_counter()
    segs = trace_labels(labels, colors)
    took = time.perf_counter() - t0
    assert len(segs) == n
    assert all(len(s["polygons"]) == 1 and 4 <= len(s["polygons"][0]["outer"]) <= 8
               for s in segs)  # rectangles stay rectangles
    assert took < 1.0, took


@pytest.fixture
def colored(tmp_path: Path) -> Path:
    shot = make_shot(tmp_path / "shot", n=2)
    out = tmp_path / "out"
    assert main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--out", str(out), "--format", "png,exr", "--quiet"]) == 0
    return out


def test_trace_shot_writes_one_trace_per_frame(colored):
    summary = trace_shot(colored)
    assert [f["frame"] for f in summary["frames"]] == ["0001", "0002"]
    for f in summary["frames"]:
        doc = json.loads(Path(f["trace"]).read_text())
        rec = json.loads((colored / f"{f['frame']}.json").read_text())
        labels = read_exr_outputs(colored / f"{f['frame']}.exr")["segment.id"]
        assert (doc["height"], doc["width"]) == labels.shape
        visible = {s["id"] for s in rec["segments"] if s["color"][3] > 0}
        assert {s["id"] for s in doc["segments"]} == visible
        assert f["segments"] == len(visible)
        colors = {s["id"]: s["color"] for s in rec["segments"]}
        assert all(s["color"] == colors[s["id"]] for s in doc["segments"])
    # a trace file is not mistaken for a record on the next run
    again = trace_shot(colored, frames=["0002"])
    assert [f["frame"] for f in again["frames"]] == ["0002"]


def test_trace_refuses_what_it_cannot_trace(colored, tmp_path):
    with pytest.raises(DaconError, match="no such output folder"):
        trace_shot(tmp_path / "nowhere")
    with pytest.raises(DaconError, match="no colorized frame '0009'"):
        trace_shot(colored, frames=["0009"])
    with pytest.raises(DaconError, match="epsilon"):
        trace_shot(colored, epsilon=-1)
    assert trace_main([str(tmp_path / "nowhere")]) == 2
    assert trace_main([str(colored), "--epsilon", "1"]) == 0


def test_trace_through_the_service(colored):
    import os
    import sys

    from dacon_engine.client import EngineClient, EngineError

    root = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with EngineClient(sys.executable, env=env) as engine:
        result = engine.trace(colored, epsilon=1.0, frames=["0001"]).wait(60)
        assert [f["frame"] for f in result["frames"]] == ["0001"]
        doc = json.loads(Path(result["frames"][0]["trace"]).read_text())
        assert doc["epsilon"] == 1.0 and doc["segments"]
        with pytest.raises(EngineError, match="no colorized frame"):
            engine.trace(colored, frames=["0042"]).wait(60)
        with pytest.raises(EngineError, match="'frames' must be"):
            engine.request("trace", out=str(colored), frames="0001").wait(60)
