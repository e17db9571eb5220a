"""BasicPBC metrics, checked against values computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.evaluation.metrics import (
    METRICS,
    evaluate,
    format_table,
    frame_metrics,
    is_background,
    mean_metrics,
)

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
    from dacon_engine.fileio.labelmap import write_label_map

    (root / "seg").mkdir(parents=True, exist_ok=True)
    write_label_map(root / "seg" / f"{stem}.png", lab)
    data = {str(i + 1): [int(v) for v in col] for i, col in enumerate(gt_colors)}
    (root / "seg" / f"{stem}.json").write_text(json.dumps(data))


def _write_png(path, arr):
    from dacon_engine.fileio.images import write_png

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
    from dacon_engine.fileio.labelmap import write_label_map

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
    segments = pytest.importorskip("dacon_engine.segmentation.segments")
    lab = labels_5_20_100()
    gt_img = _paint(lab, c(RED, BLUE, BG0))
    _write_png(tmp_path / "gt" / "0000.png", gt_img)
    _write_png(tmp_path / "pred" / "0000.png", gt_img)
    res = evaluate(tmp_path / "pred", tmp_path / "gt")
    assert res["mean"]["acc"] == 1.0 and res["mean"]["pix_acc"] == 1.0
    assert segments  # used for the GT segments


# --- checks a user relies on: shapes, degenerate rows, reading GT, messages ------------------

def test_mismatched_color_tables_are_refused():
    lab = labels_5_20_100()
    for gt, pred in ((c(RED, BLUE, BG0), c(RED, BLUE)), (c(RED, BLUE), c(RED, BLUE, BG0))):
        with pytest.raises(ValueError, match=r"colors must both be \(\d, 4\)"):
            frame_metrics(lab, gt, pred)


def test_plain_int_lists_and_labels_outside_the_table():
    lab = labels_5_20_100()
    lab[0, :3] = 7                            # a label with no color row: not counted
    m = frame_metrics(lab, [list(RED), list(BLUE), list(BG0)], [list(GREEN), list(BLUE),
                                                                 list(BG1)])
    assert m["n_pixels"] == 125 and m["n_segments"] == 3
    assert m["acc"] == pytest.approx(1 / 3) and m["pix_b_miou"] == 1.0
    lab3 = labels_5_20_100()
    lab3[lab3 == 3] = 0                       # the last label has no pixels at all
    m = frame_metrics(lab3, c(RED, BLUE, BG0), c(RED, GREEN, BG0))
    assert m["n_segments"] == 2 and m["n_pixels"] == 25 and m["pix_acc"] == pytest.approx(0.2)
    assert isinstance(m["n_pixels"], int) and isinstance(m["n_correct"], int)


def test_segment_level_background_iou_without_background_is_one():
    lab = labels_5_20_100()
    m = frame_metrics(lab, c(RED, BLUE, GREEN), c(RED, RED, GREEN))
    assert m["b_miou"] == 1.0


def test_mean_includes_segment_iou_and_all_none_stays_none():
    lab = labels_5_20_100()
    r1 = frame_metrics(lab, c(RED, BLUE, BG0), c(RED, BG0, BG1))   # b_miou 1/2
    r2 = frame_metrics(lab, c(RED, BLUE, GREEN), c(RED, BLUE, GREEN))  # b_miou 1
    m = mean_metrics([r1, r2])
    assert m["b_miou"] == pytest.approx(0.75)
    none = mean_metrics([dict(r1, pix_f_acc=None), dict(r2, pix_f_acc=None)])
    assert none["pix_f_acc"] is None and none["acc"] is not None
    assert mean_metrics([]) == {**{k: None for k in (*METRICS, "b_miou")}, "n_frames": 0}


def _one_frame(tmp_path, colors_json: str):
    """A GT folder with seg/0000.png (labels_5_20_100) + the given JSON, and a prediction."""
    lab = labels_5_20_100()
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_seg_gt(gt_dir, "0000", lab, c(RED, BLUE, BG0))
    (gt_dir / "seg" / "0000.json").write_text(colors_json)
    _write_png(pred_dir / "0000.png", _paint(lab, c(RED, BLUE, BG0)))
    return gt_dir, pred_dir, gt_dir / "seg" / "0000.json"


def test_seg_json_rgb_triplets_mean_opaque(tmp_path):
    gt_dir, pred_dir, _ = _one_frame(tmp_path, json.dumps(
        {"1": [255, 0, 0], "2": [0, 0, 255], "3": [255, 255, 255]}))
    _write_png(pred_dir / "0000.png", _paint(labels_5_20_100(), c(RED, BLUE, (255, 255, 255, 255))))
    res = evaluate(pred_dir, gt_dir)
    assert res["frames"][0]["acc"] == 1.0 and res["frames"][0]["pix_b_miou"] == 1.0


@pytest.mark.parametrize("text, problem", [
    ("{not json", "cannot read segment colors"),
    ("[1, 2]", "cannot read segment colors"),
    (json.dumps({"2": [0, 0, 255], "3": [0, 0, 0, 0]}), "segment 1 has no color "
                                                         "(1 of 3 segments missing)"),
    (json.dumps({"1": [255, 0], "2": [0, 0, 255, 255, 0], "3": [0, 0, 0, 0]}),
     "segment colors must be [r, g, b, a] lists"),
    (json.dumps({"1": [255, 0, 0, 5, 5], "2": [0, 0, 255, 255, 0], "3": [0, 0, 0, 0, 0]}),
     "segment colors must be [r, g, b, a] lists of 0..255"),
    (json.dumps({"1": [256, 0, 0, 255], "2": [0, 0, 255, 255], "3": [0, 0, 0, 0]}),
     "segment colors must be [r, g, b, a] lists of 0..255"),
    (json.dumps({"1": [-1, 0, 0, 255], "2": [0, 0, 255, 255], "3": [0, 0, 0, 0]}),
     "segment colors must be [r, g, b, a] lists of 0..255"),
])
def test_bad_seg_json_names_the_file(tmp_path, text, problem):
    gt_dir, pred_dir, js = _one_frame(tmp_path, text)
    with pytest.raises(DaconError) as e:
        evaluate(pred_dir, gt_dir)
    assert str(e.value).startswith(f"{js}: {problem}")


def test_flat_gt_folder_of_label_maps_with_json(tmp_path):
    from dacon_engine.fileio.labelmap import write_label_map

    lab = labels_5_20_100()
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    write_label_map(gt_dir / "0000.png", lab)
    (gt_dir / "0000.json").write_text(json.dumps({"1": list(RED), "2": list(BLUE),
                                                  "3": list(BG0)}))
    _write_png(tmp_path / "pred" / "0000.png", _paint(lab, c(GREEN, BLUE, BG0)))
    row = evaluate(tmp_path / "pred", gt_dir)["frames"][0]
    assert row["acc"] == pytest.approx(2 / 3) and row["n_segments"] == 3


def test_gt_folder_messages(tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    missing = tmp_path / "nope"
    with pytest.raises(DaconError) as e:
        evaluate(pred, missing)
    assert str(e.value) == f"{missing}: ground-truth folder not found"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DaconError) as e:
        evaluate(pred, empty)
    assert str(e.value) == f"{empty}: ground-truth folder holds no image files"
    (empty / "seg").mkdir()
    (empty / "seg" / "0000.jpg").write_bytes(b"")
    with pytest.raises(DaconError) as e:
        evaluate(pred, empty)
    assert str(e.value) == f"{empty / 'seg'}: segment folder holds no .png label maps"
    from dacon_engine.fileio.labelmap import write_label_map

    write_label_map(empty / "seg" / "0001.png", labels_5_20_100())
    with pytest.raises(DaconError) as e:
        evaluate(pred, empty)
    assert str(e.value) == (f"{empty / 'seg' / '0001.png'}: no colors for this segment map "
                            f"(expected 0001.json beside it or {empty / 'gt' / '0001.png'})")
    (empty / "gt").mkdir()
    _write_png(empty / "gt" / "0001.png", np.zeros((7, 25, 4), np.uint8))
    _write_png(pred / "0001.png", np.zeros((6, 25, 4), np.uint8))
    with pytest.raises(DaconError) as e:
        evaluate(pred, empty)
    assert str(e.value) == (f"{empty / 'gt' / '0001.png'}: size 25x7 does not match segment "
                            f"map {empty / 'seg' / '0001.png'} 25x6")


def test_all_line_plain_gt_frame_names_the_file(tmp_path):
    black = np.zeros((4, 4, 4), np.uint8)
    black[..., 3] = 255
    _write_png(tmp_path / "gt" / "0000.png", black)
    _write_png(tmp_path / "pred" / "0000.png", black)
    with pytest.raises(DaconError) as e:
        evaluate(tmp_path / "pred", tmp_path / "gt")
    assert str(e.value).startswith(f"{tmp_path / 'gt' / '0000.png'}: no regions found")


def test_an_exr_beside_is_not_a_prediction(tmp_path):
    lab = labels_5_20_100()
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_seg_gt(gt_dir, "0000", lab, c(RED, BLUE, BG0))
    pred_dir.mkdir()
    (pred_dir / "0000.exr").write_bytes(b"not read: our EXR sidecar, never a prediction")
    with pytest.raises(DaconError, match="missing prediction"):
        evaluate(pred_dir, gt_dir)


def test_evaluate_messages_and_record(tmp_path):
    lab = labels_5_20_100()
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_seg_gt(gt_dir, "0000", lab, c(RED, BLUE, BG0))
    _write_seg_gt(gt_dir, "0001", lab, c(RED, BLUE, BG0))
    nope = tmp_path / "nope"
    with pytest.raises(DaconError) as e:
        evaluate(nope, gt_dir)
    assert str(e.value) == f"{nope}: prediction folder not found"
    pred_dir.mkdir()
    with pytest.raises(DaconError) as e:
        evaluate(pred_dir, gt_dir, skip_missing=True)
    assert str(e.value) == f"{pred_dir}: no prediction matches a ground-truth frame"
    _write_png(pred_dir / "0000.png", _paint(lab, c(RED, BLUE, BG0)))
    _write_png(pred_dir / "0001.png", _paint(lab, c(GREEN, BLUE, BG0)))
    for stems in (["9999"], ["0000", "9999"], ["9999", "0001"]):
        with pytest.raises(DaconError) as e:
            evaluate(pred_dir, gt_dir, stems=stems)
        assert str(e.value) == f"{gt_dir}: no ground truth for frame '9999'"
    only = evaluate(pred_dir, gt_dir, stems=["0001"])
    assert [r["frame"] for r in only["frames"]] == ["0001"]
    assert only["frames"][0]["acc"] == pytest.approx(2 / 3)
    out = tmp_path / "m.json"
    res = evaluate(pred_dir, gt_dir, out)
    row = res["frames"][0]
    assert row["prediction"] == str(pred_dir / "0000.png")
    assert row["ground_truth"] == str(gt_dir / "seg" / "0000.png")
    assert res["protocol"].startswith("BasicPBC: exact RGBA per GT segment")
    assert ("background = [0,0,0,0] or [255,255,255,0]; Acc-Thres counts segments > 10 px; "
            "macro average over frames; Pix-B-MIoU = 1.0 when no background") in res["protocol"]
    text = out.read_text()
    assert text.startswith('{\n "protocol": "BasicPBC') and text.endswith("}\n")
    saved = json.loads(text)
    assert saved["frames"][1]["frame"] == "0001"
    assert saved["mean"]["acc"] == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(DaconError) as e:
        evaluate(pred_dir, gt_dir, out)
    assert str(e.value) == f"{out}: already exists (use --overwrite to replace it)"
    _write_png(pred_dir / "0000.png", np.zeros((7, 24, 4), np.uint8))
    with pytest.raises(DaconError) as e:
        evaluate(pred_dir, gt_dir)
    assert str(e.value) == (f"{pred_dir / '0000.png'}: size 24x7 does not match ground truth "
                            f"{gt_dir / 'seg' / '0000.png'} 25x6")


def test_format_table_layout():
    row = {"frame": "0", "acc": 0.5, "acc_thres": None, "pix_acc": 1.0, "pix_f_acc": 0.12345,
           "pix_b_miou": 0.0}
    mean = {"acc": 0.5, "acc_thres": None, "pix_acc": 1.0, "pix_f_acc": 0.12345,
            "pix_b_miou": 0.0, "n_frames": 1}
    assert format_table({"frames": [row], "mean": mean}) == (
        "frame      Acc  Acc-Thres  Pix-Acc  Pix-F-Acc  Pix-B-MIoU\n"
        "---------------------------------------------------------\n"
        "0        50.00          -   100.00      12.35        0.00\n"
        "---------------------------------------------------------\n"
        "mean     50.00          -   100.00      12.35        0.00   (1 frames)")
    assert format_table({"frames": [row], "mean": mean}, per_frame=False) == (
        "frame      Acc  Acc-Thres  Pix-Acc  Pix-F-Acc  Pix-B-MIoU\n"
        "---------------------------------------------------------\n"
        "mean     50.00          -   100.00      12.35        0.00   (1 frames)")
    long = dict(row, frame="frame_00012")
    no_count = {k: v for k, v in mean.items() if k != "n_frames"}
    lines = format_table({"frames": [long, long], "mean": no_count}).split("\n")
    assert lines[0].startswith("frame            Acc  Acc-Thres")
    assert lines[2].startswith("frame_00012    50.00")
    assert lines[-1].startswith("mean           50.00")
    assert lines[-1].endswith("(2 frames)")
    assert format_table({}).split("\n")[-1] == (
        "mean         -          -        -          -           -   (0 frames)")
