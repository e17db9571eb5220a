"""The output files as downstream tools read them: the JSON record field by field (palette
names, reference names, rounding), the EXR's header attributes and Cryptomatte names,
RGB line art, format selection, and the one-line errors of a failed write."""

from __future__ import annotations

import dataclasses
import errno
import json
from pathlib import Path

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio import images as imageio
from dacon_engine.fileio.images import read_image
from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.matching.bank import Assignment
from dacon_engine.matching.palette import parse_gpl
from dacon_engine.outputs.write import (
    confidence_image,
    frame_record,
    output_paths,
    read_exr_header,
    read_exr_outputs,
    render_colors,
    write_frame_outputs,
)

LABELS = np.array([[0, 1, 1, 2],
                   [0, 1, 0, 2],
                   [3, 3, 0, 2]], np.int32)
COLORS = np.array([[200, 40, 60, 255], [40, 90, 205, 255], [0, 0, 0, 0]], np.uint8)
PALETTE = "GIMP Palette\n200 40 60 lips\n40 90 205 iris\n"


def _frame(path: str | None = "in/0007.png", rgb: bool = False) -> SegmentedFrame:
    line = np.zeros(LABELS.shape + (4,), np.uint8)
    line[..., :3] = 255
    line[LABELS == 0] = (10, 20, 30, 200)
    line[1, 0] = (90, 80, 70, 255)  # line pixels differ from one another
    if rgb:
        line = line[..., :3].copy()
    return SegmentedFrame(line, LABELS.copy(), 3, None if path is None else Path(path),
                          {"mode": "fixed", "threshold": 128})


def _assignment() -> Assignment:
    conf = np.array([0.123456, 0.5, 1.0], np.float32)
    sim = np.array([0.987654, 0.25, 0.0], np.float32)
    return Assignment(COLORS.copy(), conf, sim, np.array([0, 1, 7]), np.array([4, 2, 9]))


class Named:  # a reference-like object of another kind: only str() names it
    def __str__(self) -> str:
        return "named-by-str"


REFS = [Reference(_frame(), COLORS, name="key A"),
        Reference(_frame(), COLORS, name="", color_path=Path("refs/0001.png")),
        "sheet.png", Path("keys/0003.png"), Named()]
REF_NAMES = ["key A", "refs/0001.png", "sheet.png", "keys/0003.png", "named-by-str"]


def test_the_json_record_field_by_field():
    pal = parse_gpl(PALETTE, "day.gpl")
    rec = frame_record(_frame(), _assignment(), "baseline", REFS, palette=pal,
                       matching={"graph_refine": True}, precision="bf16")
    assert rec == {
        "frame": {"width": 4, "height": 3, "source": "in/0007.png", "transparent_paper": True},
        "model": "baseline",
        "precision": "bf16",
        "matching": {"graph_refine": True},
        "references": REF_NAMES,
        "line_pixels": 4,
        "line_art": {"mode": "fixed", "threshold": 128},
        "n_segments": 3,
        "palette": {"source": "day.gpl", "entries": {"lips": "#c8283c", "iris": "#285acd"}},
        "segments": [
            {"id": 1, "color": [200, 40, 60, 255], "confidence": 0.1235,
             "similarity": 0.9877, "reference": "key A", "reference_segment": 4, "area": 3,
             "palette_entry": "lips"},
            {"id": 2, "color": [40, 90, 205, 255], "confidence": 0.5, "similarity": 0.25,
             "reference": "refs/0001.png", "reference_segment": 2, "area": 3,
             "palette_entry": "iris"},
            {"id": 3, "color": [0, 0, 0, 0], "confidence": 1.0, "similarity": 0.0,
             "reference": None, "reference_segment": 9, "area": 2, "palette_entry": None},
        ],
    }
    # without a palette, fills are named by their value; a given source wins
    plain = frame_record(_frame(), _assignment(), "m", source="elsewhere/0008.png")
    assert [s["palette_entry"] for s in plain["segments"]] == ["#c8283c", "#285acd", None]
    assert plain["palette"] is None and plain["references"] == []
    assert plain["matching"] is None and plain["precision"] is None
    assert plain["frame"]["source"] == "elsewhere/0008.png"


def test_the_json_file_holds_the_record(tmp_path):
    pal = parse_gpl(PALETTE, "day.gpl")
    (path,) = write_frame_outputs(tmp_path, "0007", _frame(), _assignment(), formats=["json"],
                                  references=REFS, palette=pal,
                                  matching={"graph_refine": False}, precision="fp32")
    text = path.read_text(encoding="utf-8")
    rec = json.loads(text)
    assert text == json.dumps(rec, indent=1) + "\n"  # one value per line, newline at the end
    assert rec == json.loads(json.dumps(frame_record(_frame(), _assignment(), "", REFS,
                                                     palette=pal,
                                                     matching={"graph_refine": False},
                                                     precision="fp32")))
    assert rec["model"] == "" and rec["references"] == REF_NAMES and rec["precision"] == "fp32"


def _crypto_manifest(header: dict, layer: str) -> dict:
    for k, v in header.items():
        if k.endswith("/name") and v == layer:
            return json.loads(header[k[: -len("name")] + "manifest"])
    raise AssertionError(f"no {layer} layer")


def test_the_exr_names_its_source_palette_and_fills(tmp_path):
    pytest.importorskip("OpenEXR")
    import OpenEXR

    pal = parse_gpl(PALETTE, "palettes/day.gpl")
    write_frame_outputs(tmp_path, "0007", _frame(), _assignment(), formats=["exr"],
                        model_name="baseline", references=REFS, palette=pal)
    header = read_exr_header(tmp_path / "0007.exr")
    assert header["dacon_source"] == "in/0007.png"
    assert header["dacon_palette"] == "palettes/day.gpl"
    assert json.loads(header["dacon_references"]) == REF_NAMES
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    assert header["type"] == OpenEXR.scanlineimage
    # nothing but the standard attributes besides dacon_* and Cryptomatte's
    assert {k for k in header if not k.startswith(("cryptomatte/", "dacon_"))} == {
        "channels", "compression", "dataWindow", "displayWindow", "lineOrder",
        "pixelAspectRatio", "screenWindowCenter", "screenWindowWidth", "type"}
    # fills named by palette entry (the transparent one has no name); every segment named
    assert set(_crypto_manifest(header, "CryptoPalette")) == {"lips", "iris"}
    assert set(_crypto_manifest(header, "CryptoSegment")) == {"segment_1", "segment_2",
                                                              "segment_3"}
    ch = read_exr_outputs(tmp_path / "0007.exr")
    assert (ch["CryptoPalette00.G"][LABELS == 0] == 0).all()  # no palette id on lines
    assert (ch["CryptoPalette00.G"][LABELS == 1] == 1).all()
    assert (ch["CryptoPalette00.G"][LABELS == 3] == 0).all()  # transparent fill: no id


def test_the_exr_of_a_frame_without_source_or_palette(tmp_path):
    pytest.importorskip("OpenEXR")
    write_frame_outputs(tmp_path, "f", _frame(path=None), _assignment(), formats=["exr"])
    header = read_exr_header(tmp_path / "f.exr")
    assert header["dacon_source"] == "" and header["dacon_palette"] == ""
    assert set(_crypto_manifest(header, "CryptoPalette")) == {"#c8283c", "#285acd"}
    unnamed = dataclasses.replace(parse_gpl(PALETTE, "x.gpl"), source=None)
    write_frame_outputs(tmp_path, "g", _frame(), _assignment(), formats=["exr"],
                        palette=unnamed)
    assert read_exr_header(tmp_path / "g.exr")["dacon_palette"] == ""


def test_rgb_line_art_lines_are_copied_opaque():
    frame = _frame(rgb=True)
    out = render_colors(frame, COLORS)
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[LABELS == 0], [[10, 20, 30, 255], [90, 80, 70, 255],
                                                     [10, 20, 30, 255], [10, 20, 30, 255]])
    np.testing.assert_array_equal(out[LABELS == 2], [[40, 90, 205, 255]] * 3)
    with pytest.raises(ValueError) as err:
        render_colors(frame, COLORS[:2])
    assert str(err.value) == "expected (3, 4) colors, got (2, 4)"


def test_confidence_image_is_float32_per_pixel():
    img = confidence_image(_frame(), np.array([0.25, 0.5, 1.0]))
    assert img.dtype == np.float32 and img.shape == (3, 4)
    np.testing.assert_array_equal(img, np.array([[0, .25, .25, .5], [0, .25, 0, .5],
                                                 [1, 1, 0, .5]], np.float32))


def test_output_formats_are_normalised_and_checked(tmp_path):
    assert output_paths(tmp_path, "f", [".PNG", "json", "png"]) == [tmp_path / "f.png",
                                                                    tmp_path / "f.json"]
    with pytest.raises(DaconError) as err:
        output_paths(tmp_path, "f", ["tiff"])
    assert str(err.value) == "unknown output format 'tiff' (choose from png, json, exr)"
    with pytest.raises(DaconError) as err:
        output_paths(tmp_path, "f", [])
    assert str(err.value) == "no output format selected"


def test_an_unreadable_exr_header_is_one_clear_error(tmp_path):
    pytest.importorskip("OpenEXR")
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"not an exr")
    with pytest.raises(DaconError) as err:
        read_exr_header(bad)
    assert err.value.path == str(bad) and err.value.problem.startswith("cannot read EXR (")


def test_existing_outputs_are_named_and_overwrite_replaces_them(tmp_path):
    write_frame_outputs(tmp_path, "f", _frame(), _assignment())
    with pytest.raises(DaconError) as err:
        write_frame_outputs(tmp_path, "f", _frame(), _assignment())
    assert str(err.value) == f"{tmp_path / 'f.png'}: already exists (use --overwrite to replace it)"
    other = _assignment()
    other.colors[0] = (1, 2, 3, 255)
    write_frame_outputs(tmp_path, "f", _frame(), other, overwrite=True)
    assert tuple(read_image(tmp_path / "f.png")[0, 1]) == (1, 2, 3, 255)


@pytest.mark.parametrize("error, problem", [
    (OSError(errno.ENOSPC, "No space left on device"), "cannot write (No space left on device)"),
    (OSError("disk gone"), "cannot write (disk gone)"),
    (ValueError("bad pixels"), "cannot write (bad pixels)"),
])
def test_a_failed_write_names_the_file_and_leaves_nothing(tmp_path, monkeypatch, error,
                                                          problem):
    def fail(*a, **kw):
        raise error

    monkeypatch.setattr(imageio, "write_png_to", fail)
    with pytest.raises(DaconError) as err:
        write_frame_outputs(tmp_path, "f", _frame(), _assignment(), formats=["json", "png"])
    assert str(err.value) == f"{tmp_path / 'f.png'}: {problem}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the JSON written first is gone


def test_a_failed_rename_removes_the_outputs_already_in_place(tmp_path, monkeypatch):
    """Files are renamed into place last (the PNG before the JSON here); when a later rename
    fails the frame's earlier outputs are removed, so no frame is left half written."""
    import os

    real = os.replace

    def replace(src, dst):
        if str(dst).endswith(".json"):
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        write_frame_outputs(tmp_path, "f", _frame(), _assignment(), formats=["json", "png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_record_says_whether_the_paper_is_transparent():
    """Editors need it to put the colors under line art drawn on transparent paper."""
    transparent = _frame()
    opaque = _frame()
    opaque.line[..., 3] = np.where(LABELS == 0, opaque.line[..., 3], 255)  # lines stay 200
    only_first = _frame()  # transparent only inside segment 1 (the first one counts too)
    only_first.line[..., 3] = np.where(LABELS == 1, 0, 255)
    only_first.line[LABELS == 0, 3] = 200
    for frame, expected in ((transparent, True), (opaque, False), (_frame(rgb=True), False),
                            (only_first, True)):
        rec = frame_record(frame, _assignment(), "baseline")
        assert rec["frame"]["transparent_paper"] is expected
