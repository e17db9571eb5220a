"""BasicPBC metrics, checked against values computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.metrics import evaluate, format_table, frame_metrics, is_background, mean_metrics

RED, BLUE, GREEN = (255, 0, 0, 255), (0, 0, 255, 255), (0, 255, 0, 255)
BG0, BG1 = (0, 0, 0, 0), (255, 255, 255, 0)
LINE = (0, 0, 0, 255)


def labels_5_20_100() -> np.ndarray:
    """6x25: row 0 line (25 px); seg 1 = 5 px, seg 2 = 20 px, seg 3 = 100 px."""
    lab = np.zeros((6, 25), np.int32)
    lab[1, :5] = 1
    lab[1, 5:] = 2
    lab[2:, :] = 3
    return lab


def c(*rows) -> np.ndarray:
    return np.array(rows, np.uint8)


def test_is_background():
    assert is_background(c(BG0, BG1, (255, 255, 255, 255), (0, 0, 0, 1), RED)).tolist() == [
        True, True, False, False, False]


def test_one_small_segment_wrong():
    lab = labels_5_20_100()
    gt = c(RED, BLUE, BG0)
    m = frame_metrics(lab, gt, c(GREEN, BLUE, BG0))
    assert m["acc"] == pytest.approx(2 / 3)
    assert m["acc_thres"] == 1.0            # the 5 px segment does not count
    assert m["pix_acc"] == pytest.approx(120 / 125)
    assert m["pix_f_acc"] == pytest.approx(20 / 25)
    assert m["pix_b_miou"] == 1.0
    assert m["n_segments"] == 3 and m["n_pixels"] == 125 and m["n_correct"] == 2


def test_background_variants():
    lab = labels_5_20_100()
    gt = c(RED, BLUE, BG0)
    # GT [0,0,0,0] predicted as [255,255,255,0]: wrong for Acc, a background hit for IoU;
    # seg 2 wrongly predicted as background.
    m = frame_metrics(lab, gt, c(RED, BG0, BG1))
    assert m["acc"] == pytest.approx(1 / 3)
    assert m["acc_thres"] == 0.0
    assert m["pix_acc"] == pytest.approx(5 / 125)
    assert m["pix_f_acc"] == pytest.approx(5 / 25)
    assert m["pix_b_miou"] == pytest.approx(100 / 120)
    assert m["b_miou"] == pytest.approx(1 / 2)
    # background missed entirely: IoU 0
    m = frame_metrics(lab, gt, c(RED, BLUE, GREEN))
    assert m["pix_b_miou"] == 0.0 and m["pix_acc"] == pytest.approx(25 / 125)
    assert m["pix_f_acc"] == 1.0


def test_no_background_anywhere_is_one():
    lab = labels_5_20_100()
    m = frame_metrics(lab, c(RED, BLUE, GREEN), c(RED, RED, GREEN))
    assert m["pix_b_miou"] == 1.0           # documented: neither side has background
    assert m["acc"] == pytest.approx(2 / 3) and m["pix_f_acc"] == pytest.approx(105 / 125)


def test_threshold_is_strictly_more_than_10px():
    lab = np.zeros((3, 11), np.int32)
    lab[0, :10] = 1                          # exactly 10 px: excluded
    lab[1, :] = 2                            # 11 px: included
    m = frame_metrics(lab, c(RED, BLUE), c(RED, GREEN))
    assert m["acc"] == 0.5 and m["acc_thres"] == 0.0


def test_degenerate_frames_give_none():
    lab = labels_5_20_100()
    m = frame_metrics(lab, c(BG0, BG1, BG0), c(BG0, BG0, BG0))
    assert m["pix_f_acc"] is None            # no foreground segment
    assert m["acc"] == pytest.approx(2 / 3) and m["pix_b_miou"] == 1.0
    tiny = np.array([[1, 0], [0, 0]], np.int32)
    assert frame_metrics(tiny, c(RED), c(RED))["acc_thres"] is None
    empty = frame_metrics(np.zeros((2, 2), np.int32), np.zeros((0, 4), np.uint8),
                          np.zeros((0, 4), np.uint8))
    assert empty["acc"] is None and empty["pix_acc"] is None


def test_segments_without_pixels_are_ignored():
    lab = np.array([[1, 1, 0, 3]], np.int32)  # label 2 absent
    m = frame_metrics(lab, c(RED, BLUE, GREEN), c(RED, RED, GREEN))
    assert m["n_segments"] == 2 and m["acc"] == 1.0


def test_mean_over_two_frames_is_macro():
    lab = labels_5_20_100()
    gt = c(RED, BLUE, BG0)
    r1 = frame_metrics(lab, gt, c(GREEN, BLUE, BG0))
    r2 = frame_metrics(lab, gt, c(RED, BG0, BG1))
    m = mean_metrics([r1, r2])
    assert m["n_frames"] == 2
    assert m["acc"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m["acc_thres"] == pytest.approx(0.5)
    assert m["pix_acc"] == pytest.approx((120 / 125 + 5 / 125) / 2)
    assert m["pix_f_acc"] == pytest.approx((0.8 + 0.2) / 2)
    assert m["pix_b_miou"] == pytest.approx((1 + 100 / 120) / 2)
    r3 = dict(r1, pix_f_acc=None)
    assert mean_metrics([r3, r2])["pix_f_acc"] == pytest.approx(0.2)


# --- evaluate() on folders ----------------------------------------------------------------

def _paint(lab: np.ndarray, colors: np.ndarray) -> np.ndarray:
    lut = np.concatenate([c(LINE), colors])
    return lut[lab]


def _write_seg_gt(root, stem, lab, gt_colors):
    from dacon_engine.labelmap import write_label_map

    (root / "seg").mkdir(parents=True, exist_ok=True)
    write_label_map(root / "seg" / f"{stem}.png", lab)
    data = {str(i + 1): [int(v) for v in col] for i, col in enumerate(gt_colors)}
    (root / "seg" / f"{stem}.json").write_text(json.dumps(data))


def _write_png(path, arr):
    from dacon_engine.imageio import write_png

    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, arr)


def test_evaluate_paintbucket_layout(tmp_path):
    lab = labels_5_20_100()
    gt = c(RED, BLUE, BG0)
    gt_dir, pred_dir = tmp_path / "gt_char", tmp_path / "pred"
    _write_seg_gt(gt_dir, "0000", lab, gt)
    _write_seg_gt(gt_dir, "0001", lab, gt)
    p0 = _paint(lab, c(GREEN, BLUE, BG0))
    p0[3, 3] = RED                            # a stray pixel: the segment's mode still wins
    _write_png(pred_dir / "0000.png", p0)
    _write_png(pred_dir / "0001.png", _paint(lab, c(RED, BG0, BG1)))
    (pred_dir / "0001.json").write_text("{}")  # our JSON beside the PNG is ignored
    out = tmp_path / "report" / "metrics.json"
    res = evaluate(pred_dir, gt_dir, out)
    assert [r["frame"] for r in res["frames"]] == ["0000", "0001"]
    assert res["frames"][0]["pix_acc"] == pytest.approx(120 / 125)
    assert res["mean"]["acc"] == pytest.approx(0.5)
    assert res["mean"]["pix_b_miou"] == pytest.approx((1 + 100 / 120) / 2)
    saved = json.loads(out.read_text())
    assert saved["mean"]["n_frames"] == 2 and len(saved["frames"]) == 2
    table = format_table(res)
    assert "Pix-B-MIoU" in table and "96.00" in table and "mean" in table
    with pytest.raises(DaconError, match="already exists"):
        evaluate(pred_dir, gt_dir, out)
    evaluate(pred_dir, gt_dir, out, overwrite=True)
    only = evaluate(pred_dir, gt_dir, stems=["0001"])
    assert only["mean"]["n_frames"] == 1
    _write_seg_gt(gt_dir, "0002", lab, gt)   # e.g. a reference frame with no prediction
    with pytest.raises(DaconError, match="missing prediction"):
        evaluate(pred_dir, gt_dir)
    part = evaluate(pred_dir, gt_dir, skip_missing=True)
    assert part["skipped"] == ["0002"] and part["mean"]["n_frames"] == 2


def test_evaluate_gt_and_seg_folders_without_json(tmp_path):
    from dacon_engine.labelmap import write_label_map

    lab = labels_5_20_100()
    gt_dir = tmp_path / "char"
    (gt_dir / "seg").mkdir(parents=True)
    write_label_map(gt_dir / "seg" / "0003.png", lab)
    _write_png(gt_dir / "gt" / "0003.png", _paint(lab, c(RED, BLUE, BG1)))
    _write_png(tmp_path / "pred" / "0003.png", _paint(lab, c(RED, BLUE, BG0)))
    res = evaluate(tmp_path / "pred", gt_dir)
    row = res["frames"][0]
    assert row["acc"] == pytest.approx(2 / 3) and row["pix_b_miou"] == 1.0


def test_evaluate_errors(tmp_path):
    lab = labels_5_20_100()
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_seg_gt(gt_dir, "0000", lab, c(RED, BLUE, BG0))
    pred_dir.mkdir()
    with pytest.raises(DaconError, match="missing prediction") as e:
        evaluate(pred_dir, gt_dir)
    assert str(e.value).startswith(str(pred_dir / "0000.png"))
    with pytest.raises(DaconError, match="no prediction matches"):
        evaluate(pred_dir, gt_dir, skip_missing=True)
    _write_png(pred_dir / "0000.png", np.zeros((7, 25, 4), np.uint8))
    with pytest.raises(DaconError, match="size 25x7 does not match ground truth") as e:
        evaluate(pred_dir, gt_dir)
    assert str(e.value).startswith(str(pred_dir / "0000.png"))
    (gt_dir / "seg" / "0000.json").write_text(json.dumps({"1": list(RED), "2": list(BLUE)}))
    with pytest.raises(DaconError, match="segment 3 has no color"):
        evaluate(pred_dir, gt_dir)
    with pytest.raises(DaconError, match="not found"):
        evaluate(tmp_path / "nope", gt_dir)


def test_evaluate_plain_colored_frames(tmp_path):
    segments = pytest.importorskip("dacon_engine.segments")
    lab = labels_5_20_100()
    gt_img = _paint(lab, c(RED, BLUE, BG0))
    _write_png(tmp_path / "gt" / "0000.png", gt_img)
    _write_png(tmp_path / "pred" / "0000.png", gt_img)
    res = evaluate(tmp_path / "pred", tmp_path / "gt")
    assert res["mean"]["acc"] == 1.0 and res["mean"]["pix_acc"] == 1.0
    assert segments  # used for the GT segments
