"""Per-frame outputs: rendering, JSON record, EXR channels, all-or-nothing writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image
from dacon_engine.frames import SegmentedFrame
from dacon_engine.matching.bank import Assignment
from dacon_engine.outputs.write import (
    frame_record,
    read_exr_header,
    read_exr_outputs,
    render_colors,
    write_frame_outputs,
)


def _frame(labels: np.ndarray) -> SegmentedFrame:
    h, w = labels.shape
    line = np.zeros((h, w, 4), np.uint8)
    line[..., :3] = 255                        # transparent paper, white under it
    line[labels == 0] = (10, 20, 30, 200)      # semi-transparent colored line pixels
    line[0, 0] = (0, 0, 255, 255) if labels[0, 0] == 0 else line[0, 0]
    return SegmentedFrame(line, labels.astype(np.int32), int(labels.max()), None)


def _assignment(n: int) -> Assignment:
    rng = np.random.default_rng(n)
    colors = rng.integers(0, 256, (n, 4)).astype(np.uint8)
    conf = np.linspace(0.0, 1.0, n).astype(np.float32)
    return Assignment(colors, conf, conf, np.arange(n) % 2, np.arange(1, n + 1))


LABELS = np.array([[0, 1, 1, 2],
                   [0, 1, 0, 2],
                   [3, 3, 0, 2]], np.int32)


def test_render_colors_fills_segments_and_copies_lines():
    f = _frame(LABELS)
    a = _assignment(3)
    out = render_colors(f, a.colors)
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    line = LABELS == 0
    assert (out[line] == f.line[line]).all()
    for k in (1, 2, 3):
        assert (out[LABELS == k] == a.colors[k - 1]).all()
    with pytest.raises(ValueError):
        render_colors(f, a.colors[:2])


def test_frame_record():
    f = _frame(LABELS)
    f.path = "in/0007.png"
    rec = frame_record(f, _assignment(3), "baseline", ["ref_a", "ref_b"])
    json.dumps(rec)  # serialisable
    assert rec["frame"] == {"width": 4, "height": 3, "source": "in/0007.png",
                            "transparent_paper": True}
    assert rec["model"] == "baseline" and rec["references"] == ["ref_a", "ref_b"]
    assert rec["line_pixels"] == 4
    segs = rec["segments"]
    assert [s["id"] for s in segs] == [1, 2, 3]
    assert [s["area"] for s in segs] == [3, 3, 2]
    assert [s["reference"] for s in segs] == ["ref_a", "ref_b", "ref_a"]
    assert [s["reference_segment"] for s in segs] == [1, 2, 3]
    assert [s["confidence"] for s in segs] == [0.0, 0.5, 1.0]
    assert all(len(s["color"]) == 4 for s in segs)


def test_write_png_json_line_pixels_identical(tmp_path):
    f = _frame(LABELS)
    a = _assignment(3)
    paths = write_frame_outputs(tmp_path / "out", "0007", f, a, model_name="m",
                                references=["r0", "r1"])
    assert [p.name for p in paths] == ["0007.png", "0007.json"]
    img = read_image(paths[0])
    line = LABELS == 0
    assert (img[line] == f.line[line]).all()     # pixel-identical, alpha included
    assert (img == render_colors(f, a.colors)).all()
    rec = json.loads(paths[1].read_text())
    assert rec["model"] == "m" and len(rec["segments"]) == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0007.json", "0007.png"]


def test_exr_roundtrip_exact_ids_and_half_confidence(tmp_path):
    big = (1 << 24) + 1                      # not representable in float32
    labels = np.array([[0, 1, 2], [big, big, 0]], np.int64)
    n = big
    h, w = labels.shape
    line = np.zeros((h, w, 4), np.uint8)
    line[labels == 0] = (0, 0, 0, 255)
    # a sparse label set: build a frame whose n_segments covers the big id
    f = SegmentedFrame(line, labels.astype(np.int32), n, None)
    colors = np.zeros((n, 4), np.uint8)
    colors[0] = (255, 0, 0, 255)
    colors[1] = (0, 128, 0, 128)
    colors[big - 1] = (1, 2, 3, 4)
    conf = np.zeros(n, np.float32)
    conf[0], conf[1], conf[big - 1] = 0.1, 0.25, 0.7
    a = Assignment(colors, conf, conf, np.zeros(n, np.int64), np.ones(n, np.int64))
    (p,) = write_frame_outputs(tmp_path, "f", f, a, formats=("exr",), model_name="geo",
                               references=["r.png"])
    assert p.name == "f.exr"
    ch = read_exr_outputs(p)
    assert set(ch) == {"R", "G", "B", "A", "segment.id", "confidence"} | {
        f"{layer}00.{c}" for layer in ("CryptoPalette", "CryptoSegment") for c in "RGBA"}
    assert ch["segment.id"].dtype == np.uint32
    assert (ch["segment.id"] == labels.astype(np.uint32)).all()
    assert ch["confidence"].dtype == np.float16
    expected_conf = np.array([[0, 0.1, 0.25], [0.7, 0.7, 0]], np.float16)
    assert (ch["confidence"] == expected_conf).all()
    rgba = np.stack([ch[c] for c in "RGBA"], -1)
    assert rgba.dtype == np.float32
    # scene-linear, premultiplied: sRGB 128 is linear 0.2158605, times alpha 128/255
    assert np.allclose(rgba[0, 1], [1, 0, 0, 1])
    assert np.allclose(rgba[0, 2], [0, 0.2158605 * 128 / 255, 0, 128 / 255], atol=1e-6)
    # reading it back gives the PNG's straight sRGB values exactly
    assert (read_image(p) == render_colors(f, colors)).all()
    hdr = read_exr_header(p)
    assert hdr["dacon_model"] == "geo" and json.loads(hdr["dacon_references"]) == ["r.png"]
    assert hdr["dacon_alpha"] == "premultiplied" and hdr["dacon_color"] == "linear-rec709"


def test_existing_output_not_overwritten_and_nothing_written(tmp_path):
    f, a = _frame(LABELS), _assignment(3)
    (tmp_path / "0001.json").write_text("keep")
    with pytest.raises(DaconError, match=r"already exists \(use --overwrite to replace it\)") as e:
        write_frame_outputs(tmp_path, "0001", f, a, formats=("png", "json", "exr"))
    assert str(e.value).startswith(str(tmp_path / "0001.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.json"]  # no png/exr, no temps
    assert (tmp_path / "0001.json").read_text() == "keep"
    write_frame_outputs(tmp_path, "0001", f, a, overwrite=True)
    assert json.loads((tmp_path / "0001.json").read_text())["n_segments"] == 3


def test_failure_midway_removes_what_was_written(tmp_path, monkeypatch):
    from dacon_engine.outputs import write as outputs

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "_write_exr", boom)
    with pytest.raises(DaconError, match="No space left") as e:
        write_frame_outputs(tmp_path, "0001", _frame(LABELS), _assignment(3),
                            formats=("png", "json", "exr"))
    assert str(e.value).startswith(str(tmp_path / "0001.exr"))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")          # a FILE as parent: fails even for root
    with pytest.raises(DaconError) as e:
        write_frame_outputs(blocker / "out", "0001", _frame(LABELS), _assignment(3))
    assert str(e.value).startswith(str(blocker / "out"))


def test_unknown_format(tmp_path):
    with pytest.raises(DaconError, match="unknown output format 'tif'"):
        write_frame_outputs(tmp_path, "0001", _frame(LABELS), _assignment(3),
                            formats=("png", "tif"))
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet(tmp_path):
    from dacon_engine.outputs.contact_sheet import (
        fit_cell,
        make_contact_sheet,
        render_contact_sheet,
    )

    wide = np.zeros((10, 40, 4), np.uint8)
    wide[..., 0] = 200
    wide[..., 3] = 255
    clear = np.zeros((30, 30, 4), np.uint8)          # fully transparent: checkerboard shows
    rgb = np.full((50, 20, 3), 7, np.uint8)
    cell = fit_cell(wide, 32)
    assert cell.shape == (8, 32, 3) and (cell[..., 0] == 200).all() and (cell[..., 1] == 0).all()
    assert set(np.unique(fit_cell(clear, 16))) <= {228, 255}
    assert fit_cell(np.zeros((4, 2), np.uint8), 16).shape == (16, 8, 3)  # gray, enlarged
    sheet = render_contact_sheet([[wide, clear, rgb], [rgb]], ["row one", "row two"], 32)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    assert sheet.shape[1] == 6 + 3 * (32 + 6)
    p = make_contact_sheet([[wide, clear, rgb], [rgb]], ["a", "b"], tmp_path / "cs.png",
                           max_cell=32, captions=[["t", "r", "out"], ["x"]])
    img = read_image(p)
    assert img.shape[2] == 4 and (img[..., 3] == 255).all()
    assert [q.name for q in tmp_path.iterdir()] == ["cs.png"]
    with pytest.raises(DaconError, match="already exists"):
        make_contact_sheet([[rgb]], None, p, overwrite=False)
    with pytest.raises(ValueError):
        render_contact_sheet([], None)


def test_read_exr_outputs_bad_file(tmp_path):
    bad = tmp_path / "bad.exr"
    bad.write_text("not an exr")
    with pytest.raises(DaconError, match="cannot read EXR") as e:
        read_exr_outputs(bad)
    assert str(e.value).startswith(str(bad))
