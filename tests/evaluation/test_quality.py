"""The quality-benchmark plumbing on tiny inputs."""

import numpy as np

from dacon_engine.colorizer import Colorizer
from dacon_engine.evaluation.quality import (
    Case,
    format_rows,
    score_cases,
    synthetic_suites,
    warp_suite,
)
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.art import draw


def test_identical_target_scores_perfectly():
    line, gt = draw(96)
    m = score_cases(lambda: Colorizer("baseline"), [Case([(line, gt)], [(line, gt)])])
    assert m["acc"] == 1.0 and m["pix_acc"] == 1.0 and m["n_frames"] == 1


def test_wrong_reference_scores_low():
    line, gt = draw(96)
    recolored = gt.copy()
    inside = gt[..., 3] == 255
    recolored[inside & np.any(gt[..., :3] != 0, axis=-1)] = (1, 2, 3, 255)  # every fill wrong
    m = score_cases(lambda: Colorizer("baseline"), [Case([(line, recolored)], [(line, gt)])])
    assert m["pix_f_acc"] == 0.0


def test_suites_are_deterministic_and_shaped():
    a = synthetic_suites(n_clips=1, size=128, n_frames=4)
    b = synthetic_suites(n_clips=1, size=128, n_frames=4)
    assert set(a) == {"keyframe-1ref", "keyframe-3ref", "sheet", "consecutive", "new-shape"}
    assert len(a["keyframe-3ref"][0].references) == 3
    assert len(a["consecutive"]) == len(a["new-shape"]) == 3
    # new-shape: the consecutive pairs, each target with two more closed regions
    for plain, shaped in zip(a["consecutive"], a["new-shape"]):
        assert plain.references[0][0] is shaped.references[0][0]
        n0 = segment_line_art(plain.targets[0][0])[1]
        assert segment_line_art(shaped.targets[0][0])[1] == n0 + 2
    np.testing.assert_array_equal(a["new-shape"][1].targets[0][0], b["new-shape"][1].targets[0][0])
    np.testing.assert_array_equal(a["sheet"][0].targets[0][0], b["sheet"][0].targets[0][0])
    (case,) = warp_suite(*draw(96), n=2)
    assert len(case.targets) == 2
    rows = {"s": {"baseline": score_cases(lambda: Colorizer("baseline"), a["consecutive"])}}
    assert "baseline" in format_rows(rows)


def test_warp_line_art_keeps_trace_colors_and_closes_black_lines():
    import cv2

    from dacon_engine.evaluation.quality import warp_line_art

    line = np.zeros((64, 64, 4), np.uint8)
    line[..., :3] = 255
    line[20, 5:60] = (0, 0, 0, 255)
    line[40, 5:60] = (255, 0, 0, 255)  # a red highlight trace line
    gt = np.zeros((64, 64, 4), np.uint8)
    m = cv2.getRotationMatrix2D((32, 32), 10, 1.0)
    t_line, t_gt = warp_line_art(line, gt, affine=m)
    colors = {tuple(c) for c in t_line.reshape(-1, 4)}
    assert (255, 0, 0, 255) in colors and (0, 0, 0, 255) in colors
    assert colors <= {(255, 0, 0, 255), (0, 0, 0, 255), (255, 255, 255, 0)}
    # the rotated 1-px black line stays 4-connected closed: every column it crosses has ink
    black = np.all(t_line == (0, 0, 0, 255), axis=2)
    assert black[:, 12:52].any(axis=0).all()
    assert t_gt.shape == gt.shape


def test_closeups_are_deterministic_magnified_and_drawn_with_the_same_pen():
    from dacon_engine.evaluation.quality import closeup_suite
    from dacon_engine.segmentation.zoom import pen_width

    line, gt = draw(160)
    a, b = closeup_suite(line, gt, seed=5, n=2), closeup_suite(line, gt, seed=5, n=2)
    assert len(a) == 1 and len(a[0].targets) == 2
    assert all((x[0] == y[0]).all() and (x[1] == y[1]).all()
               for x, y in zip(a[0].targets, b[0].targets))
    ref_labels, _ = segment_line_art(line)
    for t_line, t_gt in a[0].targets:
        assert t_line.shape == line.shape and t_gt.shape == gt.shape
        assert abs(pen_width(t_line) - pen_width(line)) <= 1  # not 2x its width
        labels, _ = segment_line_art(t_line)
        # seen from closer: its regions are larger than the drawing's
        assert np.median(np.bincount(labels.ravel())[1:]) > \
            np.median(np.bincount(ref_labels.ravel())[1:])
        assert set(map(tuple, t_gt.reshape(-1, 4))) <= set(map(tuple, gt.reshape(-1, 4)))


def test_benchmark_suites_name_every_suite_and_add_the_real_frame_when_given(tmp_path):
    from dacon_engine.evaluation.quality import benchmark_suites, closeup_suite, warp_suite
    from tests.support.clips import save

    synthetic = ["keyframe-1ref", "keyframe-3ref", "sheet", "consecutive", "new-shape",
                 "closeup-synth"]
    assert list(benchmark_suites(None, clips=1, size=128, frames=4)) == synthetic
    line, gt = draw(96)
    save(tmp_path / "line.png", line)
    save(tmp_path / "gt.png", gt)
    suites = benchmark_suites(tmp_path, clips=1, size=128, frames=4, warps=2)
    assert list(suites) == ["warp-mild", "warp-large", "closeup"] + synthetic
    for name, made in (("warp-large", warp_suite(line, gt, seed=2, n=2, regime="large")),
                       ("closeup", closeup_suite(line, gt, seed=3, n=2))):
        for (a, b), (c, d) in zip(suites[name][0].targets, made[0].targets):
            assert np.array_equal(a, c) and np.array_equal(b, d)
