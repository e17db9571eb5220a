"""Palettes: parsing (errors name the file and line), snapping in CIE Lab, strict refusal,
the Cryptomatte layers decoded per the specification, recolor and palette extraction."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image
from dacon_engine.jobs.cli import main
from dacon_engine.matching.palette import load_palette, parse_gpl, parse_json_palette, snap_colors
from tests.support.clips import make_shot, save, temp_files

# art.COLORS: face (250,220,200), hat (30,160,60), eyes (40,90,200) and (40,90,210),
# mouth (200,40,60); background transparent
DAY = """GIMP Palette
Name: day
Columns: 4
# the face is 2 units off the reference, the eyes 5 either way
250 222 198\tskin
 30 160  60\that
 40  90 205\teye
200  40  60\tmouth
"""
NIGHT = {"skin": "#6070a0", "hat": "#103020", "eye": "#202060", "mouth": "#502030"}


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    s = make_shot(tmp_path / "shot", n=2)
    (tmp_path / "day.gpl").write_text(DAY, encoding="utf-8")
    (tmp_path / "night.json").write_text(json.dumps(NIGHT), encoding="utf-8")
    return s


def colorize(shot: dict, out: Path, *extra: str) -> int:
    return main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
                 "--ref-line", str(shot["ref_line"]), "--out", str(out), "--model", "baseline",
                 "--quiet", *extra])


def one_line_error(capsys, argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("dacon: "), err
    return err[0]


# -- parsing ---------------------------------------------------------------------------------
def test_gpl_and_json_parse_to_named_entries(tmp_path):
    p = parse_gpl(DAY + "  0   0   0\n", tmp_path / "day.gpl")
    assert p.names == ("skin", "hat", "eye", "mouth", "#000000")  # unnamed: its value
    assert p.colors[0].tolist() == [250, 222, 198]
    rgba = parse_gpl("GIMP Palette\nChannels: RGBA\n1 2 3 128 half\n", "a.gpl")
    assert rgba.entries() == {"half": "#010203"}
    j = parse_json_palette(json.dumps(NIGHT), "n.json")
    assert j.entries() == NIGHT


@pytest.mark.parametrize("name,text,problem", [
    ("a.gpl", "GIMP Palette\n10 20 30 ok\n1 2 three bad\n", "line 3: expected 'R G B name'"),
    ("a.gpl", "GIMP Palette\n\n10 20 300 big\n", "line 3: expected 'R G B name' with whole numbers 0-255"),
    ("a.gpl", "JASC-PAL\n10 20 30 x\n", "line 1: not a GIMP palette"),
    ("a.gpl", "GIMP Palette\n1 2 3 skin\n4 5 6 skin\n", "line 3: name 'skin' is used twice (line 2)"),
    ("a.gpl", "GIMP Palette\n1 2 3 a\n1 2 3 b\n", "line 3: 'b' has the same value #010203 as 'a' (line 2)"),
    ("a.gpl", "GIMP Palette\n# only a comment\n", "palette has no colors"),
    ("a.json", '{\n "skin": "#ffeedd",\n "hat": "green"\n}', "line 3: 'hat': value 'green' is not a color"),
    ("a.json", '{\n "skin": "#ffeedd",\n "hat" "#000000"\n}', "line 3: not valid JSON"),
    ("a.json", '["#ffffff"]', "line 1: expected a JSON object"),
    ("a.json", '{"a": "#000000", "a": "#ffffff"}', "name 'a' is used twice"),
])
def test_palette_errors_name_the_file_and_line(tmp_path, capsys, name, text, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DaconError) as e:
        load_palette(path)
    assert str(e.value).startswith(f"{path}: ") and problem in str(e.value)
    # and through the CLI: one line, exit 2, no output folder
    line = one_line_error(capsys, ["colorize", str(tmp_path), "--ref", str(tmp_path),
                                   "--out", str(tmp_path / "out"), "--palette", str(path)])
    assert str(path) in line and problem in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra,allowed", [
    (["--palette", "p.txt"], "--palette: p.txt: must be a GIMP .gpl or a .json palette"),
    (["--palette", "missing.gpl"], "missing.gpl: palette file not found"),
    (["--palette-tolerance", "-1", "--palette", "day.gpl"], "--palette-tolerance: -1: must be a number >= 0"),
    (["--palette-tolerance", "nan", "--palette", "day.gpl"], "--palette-tolerance: nan: must be a number >= 0"),
    (["--strict-palette"], "--strict-palette needs --palette FILE"),
    (["--palette-tolerance", "3"], "--palette-tolerance 3.0 needs --palette FILE"),
])
def test_palette_options_refused_up_front(capsys, shot, tmp_path, monkeypatch, extra, allowed):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    line = one_line_error(capsys, ["colorize", str(shot["root"] / "line"), "--ref",
                                   str(shot["ref"]), "--out", str(out), "--model", "baseline",
                                   *extra])
    assert allowed in line
    assert not out.exists()


# -- snapping --------------------------------------------------------------------------------
def test_snap_colors_nearest_in_lab_reports_far_colors_with_pixel_counts():
    pal = parse_json_palette(json.dumps({"skin": "#fadec6", "ink": "#101010",
                                         "sky": "#3070f0"}), "p.json")
    colors = np.array([[250, 220, 200, 255],   # ~1.5 from skin
                       [250, 220, 200, 255],   # same color, another segment
                       [20, 20, 20, 200],      # near ink, partly transparent -> opaque ink
                       [200, 30, 40, 255],     # red: far from everything
                       [9, 9, 9, 0]], np.uint8)  # transparent stays transparent
    out, reports = snap_colors(pal, colors, np.array([10, 5, 7, 42, 99]), tolerance=5.0,
                               frame="ref.png")
    assert out.tolist() == [[250, 222, 198, 255], [250, 222, 198, 255], [16, 16, 16, 255],
                            out[3].tolist(), [0, 0, 0, 0]]
    assert out[3, :3].tolist() in pal.colors.tolist() and out[3, 3] == 255
    (r,) = reports
    assert (r.frame, r.color, r.pixels) == ("ref.png", "#c81e28", 42)
    assert r.nearest in pal.names and r.delta_e > 5
    assert "ref.png: color #c81e28 (42 px) is delta-E" in r.message(5.0)


def test_palette_fills_are_exact_palette_values_despite_noisy_reference(shot, tmp_path, capsys):
    ref = read_image(shot["ref"])
    rng = np.random.default_rng(3)
    noisy = ref.copy()
    fill = ref[..., 3] == 255
    noise = rng.integers(-3, 4, size=ref.shape[:2] + (3,))
    noisy[..., :3] = np.where(fill[..., None], np.clip(ref[..., :3] + noise, 0, 255),
                              ref[..., :3]).astype(np.uint8)
    save(shot["ref"], noisy)
    out = tmp_path / "out"
    assert colorize(shot, out, "--palette", str(tmp_path / "day.gpl"), "--format", "png") == 0
    assert capsys.readouterr().err == ""  # every color within the tolerance
    pal = {tuple(v) for v in load_palette(tmp_path / "day.gpl").colors.tolist()}
    for k in (1, 2):
        png = read_image(out / f"{k:04d}.png")
        line = read_image(shot["lines"][k - 1])
        filled = (png[..., 3] == 255) & ~(png == line).all(-1)
        values = {tuple(v) for v in png[filled][:, :3].tolist()}
        assert values and values <= pal
        rec = json.loads((out / f"{k:04d}.json").read_text())
        assert rec["palette"]["entries"]["skin"] == "#fadec6"
        named = {s["palette_entry"] for s in rec["segments"]}
        assert named == {None, "skin", "hat", "eye", "mouth"}  # None: transparent background
        for s in rec["segments"]:
            if s["palette_entry"]:
                assert s["color"] == [*load_palette(tmp_path / "day.gpl").colors[
                    ["skin", "hat", "eye", "mouth"].index(s["palette_entry"])].tolist(), 255]


def test_off_palette_colors_warn_and_strict_refuses_with_nothing_written(shot, tmp_path, capsys):
    no_mouth = tmp_path / "no_mouth.gpl"
    no_mouth.write_text("\n".join(DAY.splitlines()[:-1]) + "\n", encoding="utf-8")
    out = tmp_path / "warned"
    assert colorize(shot, out, "--palette", str(no_mouth)) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"dacon: warning: {shot['ref']}: color #c8283c (")
    assert "from the nearest palette entry" in err[0] and "--palette-tolerance 8" in err[0]
    px = int(err[0].split("(")[1].split(" px")[0])
    assert px > 50  # the mouth's area in the reference
    # --strict-palette: one line, exit 2, no folder, no temp files
    strict = tmp_path / "strict"
    line = one_line_error(capsys, ["colorize", str(shot["root"] / "line"), "--ref",
                                   str(shot["ref"]), "--ref-line", str(shot["ref_line"]),
                                   "--out", str(strict), "--model", "baseline",
                                   "--palette", str(no_mouth), "--strict-palette"])
    assert line.startswith(f"dacon: {shot['ref']}: color #c8283c") and "--strict-palette" in line
    assert not strict.exists() and temp_files(tmp_path) == []
    # a wide enough tolerance lets it through silently
    assert colorize(shot, tmp_path / "wide", "--palette", str(no_mouth), "--strict-palette",
                    "--palette-tolerance", "100") == 0
    assert capsys.readouterr().err == ""


# -- Cryptomatte -----------------------------------------------------------------------------
def spec_id(name: str) -> np.float32:
    """The specification's hash-to-float: MurmurHash3_32 of the name, exponent kept in
    [1, 254] by flipping its lowest bit."""
    import mmh3

    h = mmh3.hash(name, 0) & 0xFFFFFFFF
    if (h >> 23) & 0xFF in (0, 255):
        h ^= 1 << 23
    return np.float32(struct.unpack("<f", struct.pack("<L", h))[0])


def read_exr(path: Path) -> tuple[dict, dict]:
    import OpenEXR

    with OpenEXR.File(str(path), separate_channels=True) as f:
        return dict(f.header()), {k: np.array(c.pixels) for k, c in f.channels().items()}


def decode_matte(header: dict, channels: dict, layer: str, name: str) -> np.ndarray:
    """A matte per the specification: find the layer's metadata, take the name's id from
    the manifest, sum the coverage of every rank holding that id."""
    import mmh3

    keys = [k.split("/")[1] for k, v in header.items()
            if k.startswith("cryptomatte/") and k.endswith("/name") and v == layer]
    assert len(keys) == 1
    key = keys[0]
    assert key == f"{mmh3.hash(layer, 0) & 0xFFFFFFFF:08x}"[:7]
    assert header[f"cryptomatte/{key}/hash"] == "MurmurHash3_32"
    assert header[f"cryptomatte/{key}/conversion"] == "uint32_to_float32"
    manifest = json.loads(header[f"cryptomatte/{key}/manifest"])
    bits = manifest[name]
    assert len(bits) == 8
    fid = np.frombuffer(bytes.fromhex(bits)[::-1], np.float32)[0]
    assert fid == spec_id(name) and np.isfinite(fid)
    matte = np.zeros(channels[f"{layer}00.R"].shape, np.float32)
    rank = 0
    while f"{layer}{rank:02d}.R" in channels:
        for id_ch, cov_ch in (("R", "G"), ("B", "A")):
            ids = channels[f"{layer}{rank:02d}.{id_ch}"]
            assert ids.dtype == np.float32
            matte += np.where(ids == fid, channels[f"{layer}{rank:02d}.{cov_ch}"], 0)
        rank += 1
    return matte


def test_spec_example_ids():
    from dacon_engine.outputs.cryptomatte import manifest

    # the manifest example of the Cryptomatte specification
    assert manifest(["bunny", "default"]) == {"bunny": "13851a76", "default": "42c9679f"}
    # "name75" hashes to 0x801bc361: exponent 0 (a denormal); bit 23 flips it to 1
    assert manifest(["name75"]) == {"name75": "809bc361"}
    assert spec_id("name75") == np.frombuffer(bytes.fromhex("809bc361")[::-1], np.float32)[0]


def test_cryptomatte_decodes_to_exactly_each_palette_entrys_pixels(shot, tmp_path):
    out = tmp_path / "out"
    assert colorize(shot, out, "--palette", str(tmp_path / "day.gpl"), "--format", "png,exr") == 0
    pal = load_palette(tmp_path / "day.gpl")
    header, ch = read_exr(out / "0001.exr")
    assert {"R", "G", "B", "A", "segment.id", "confidence"} <= set(ch)  # still readable
    png = read_image(out / "0001.png")
    total = np.zeros(png.shape[:2], np.float32)
    for name, color in zip(pal.names, pal.colors.tolist()):
        matte = decode_matte(header, ch, "CryptoPalette", name)
        expected = (png[..., :3] == color).all(-1) & (png[..., 3] == 255)
        assert expected.any()
        assert np.array_equal(matte, expected.astype(np.float32)), name
        total += matte
    assert total.max() == 1.0
    assert np.all(total[ch["segment.id"] == 0] == 0)  # lines: no id, no coverage
    rec = json.loads((out / "0001.json").read_text())
    for s in rec["segments"][:3]:  # region mattes: one id per segment
        matte = decode_matte(header, ch, "CryptoSegment", f"segment_{s['id']}")
        assert np.array_equal(matte, (ch["segment.id"] == s["id"]).astype(np.float32))


def test_cryptomatte_without_palette_names_colors(shot, tmp_path):
    out = tmp_path / "out"
    assert colorize(shot, out, "--format", "exr") == 0
    header, ch = read_exr(out / "0001.exr")
    matte = decode_matte(header, ch, "CryptoPalette", "#1ea03c")  # the hat's color
    rec = json.loads((out / "0001.json").read_text())
    hats = [s["id"] for s in rec["segments"] if s["color"] == [30, 160, 60, 255]]
    assert hats and all(s["palette_entry"] == "#1ea03c" for s in rec["segments"]
                        if s["id"] in hats)
    assert np.array_equal(matte, np.isin(ch["segment.id"], hats).astype(np.float32))


# -- recolor ---------------------------------------------------------------------------------
@pytest.mark.parametrize("formats", ["png,exr", "png"])
def test_recolor_swaps_the_palette_frame_by_frame(shot, tmp_path, capsys, formats):
    out = tmp_path / "out"
    assert colorize(shot, out, "--palette", str(tmp_path / "day.gpl"), "--format", formats) == 0
    day = load_palette(tmp_path / "day.gpl")
    before = {k: read_image(out / f"{k:04d}.png") for k in (1, 2)}
    crypto_before = read_exr(out / "0001.exr") if "exr" in formats else None
    assert main(["recolor", str(out), "--palette", str(tmp_path / "night.json"), "--quiet"]) == 0
    night = load_palette(tmp_path / "night.json")
    for k in (1, 2):
        png = read_image(out / f"{k:04d}.png")
        for name, old, new in zip(day.names, day.colors.tolist(),
                                  [night.colors[night.index(n)].tolist() for n in day.names]):
            was = (before[k][..., :3] == old).all(-1) & (before[k][..., 3] == 255)
            assert was.any()
            assert (png[was][:, :3] == new).all(), name
        changed = (png != before[k]).any(-1)
        fills = np.zeros_like(changed)
        for old in day.colors.tolist():
            fills |= (before[k][..., :3] == old).all(-1)
        assert not (changed & ~fills).any()  # lines and background untouched
        rec = json.loads((out / f"{k:04d}.json").read_text())
        assert rec["palette"]["entries"] == NIGHT
        for s in rec["segments"]:
            if s["palette_entry"]:
                assert s["color"] == [*night.colors[night.index(s["palette_entry"])].tolist(), 255]
    if crypto_before is not None:
        header, ch = read_exr(out / "0001.exr")
        old_header, old_ch = crypto_before
        assert {k: v for k, v in header.items() if k.startswith("cryptomatte/")} == \
            {k: v for k, v in old_header.items() if k.startswith("cryptomatte/")}
        assert np.array_equal(ch["CryptoPalette00.R"], old_ch["CryptoPalette00.R"])
        assert np.array_equal(ch["segment.id"], old_ch["segment.id"])
        from dacon_engine.fileio.images import srgb_to_linear

        skin = ch["segment.id"] > 0
        skin &= (read_image(out / "0001.png")[..., :3] == night.colors[0]).all(-1)
        want = srgb_to_linear(night.colors[0].astype(np.float32) / 255)
        assert np.allclose(ch["R"][skin], want[0]) and np.allclose(ch["B"][skin], want[2])
    assert temp_files(out) == []


def test_recolor_refuses_missing_names_and_changes_nothing(shot, tmp_path, capsys):
    out = tmp_path / "out"
    assert colorize(shot, out, "--palette", str(tmp_path / "day.gpl"), "--format", "png,exr") == 0
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()}
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"skin": "#000080", "eye": "#ffffff"}), encoding="utf-8")
    line = one_line_error(capsys, ["recolor", str(out), "--palette", str(partial)])
    assert line.startswith(f"dacon: {partial}: 2 name(s) the shot uses are not in this palette")
    assert "'hat'" in line and "'mouth'" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == snapshot
    line = one_line_error(capsys, ["recolor", str(tmp_path / "nowhere"), "--palette",
                                   str(tmp_path / "night.json")])
    assert "no such output folder" in line


# -- palette extraction ----------------------------------------------------------------------
def test_palette_command_extracts_distinct_colors_with_counts(shot, tmp_path, capsys):
    out = tmp_path / "start.gpl"
    assert main(["palette", str(shot["ref"]), "--out", str(out), "--min-pixels", "60"]) == 0
    printed = capsys.readouterr().out
    ref = read_image(shot["ref"])
    visible = ref[ref[..., 3] > 0][:, :3]
    colors, counts = np.unique(visible, axis=0, return_counts=True)
    pal = load_palette(out)
    want = {f"#{r:02x}{g:02x}{b:02x}": int(n) for (r, g, b), n in zip(colors.tolist(), counts)
            if n >= 60}
    assert set(pal.names) == set(want) and len(pal) == 6
    text = out.read_text()
    for name, n in want.items():
        assert f"{name}  {n} px" in printed
        assert f"# {n} px in 1 of 1 frame(s)" in text
    # most used first; .json works too; an existing file is kept without --overwrite
    assert pal.names[0] == max(want, key=want.get)
    assert main(["palette", str(shot["ref"]), "--out", str(tmp_path / "s.json")]) == 0
    assert load_palette(tmp_path / "s.json").names[0] == pal.names[0]
    capsys.readouterr()
    line = one_line_error(capsys, ["palette", str(shot["ref"]), "--out", str(out)])
    assert "already exists" in line
