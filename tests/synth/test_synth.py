"""Procedural training data: determinism, flat colors per segment, correspondence."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from dacon_engine import synth
from dacon_engine.segmentation.references import pack_rgba, segment_colors
from dacon_engine.segmentation.segments import segment_line_art

SIZE = 320


def _segments_single_colored(frame) -> tuple[int, int]:
    """(number of segments, number of segments with more than one gt color)."""
    labels, n = segment_line_art(frame.line)
    cid = pack_rgba(frame.gt.reshape(-1, 4))
    lab = labels.ravel().astype(np.int64)
    keep = lab > 0
    pairs = np.unique((lab[keep] << 32) | cid[keep])
    per_label = np.bincount(pairs >> 32, minlength=n + 1)[1:]
    return n, int((per_label > 1).sum())


@pytest.fixture(scope="module")
def pairs():
    out = {}
    for regime in ("consecutive", "keyframe"):
        out[regime] = [synth.make_pair(s, SIZE, regime) for s in range(6)]
    return out


def test_deterministic():
    a = synth.make_pair(123, SIZE, "consecutive")
    b = synth.make_pair(123, SIZE, "consecutive")
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.line, fb.line)
        assert np.array_equal(fa.gt, fb.gt)
        assert np.array_equal(fa.part_map, fb.part_map)
    c = synth.make_pair(124, SIZE, "consecutive")
    assert not np.array_equal(a[1].gt, c[1].gt)


def test_segments_flat_colored(pairs):
    from skimage.measure import label

    total = bad = split = 0
    for regime in pairs:
        for ref, tgt in pairs[regime]:
            for f in (ref, tgt):
                n, b = _segments_single_colored(f)
                total += n
                bad += b
                # a segment is one connected piece (color lines only join adjacent regions)
                labels, n2 = segment_line_art(f.line)
                pieces = label(labels, connectivity=2, background=0).max()
                split += int(pieces) - n2
    assert total > 200
    assert bad == 0, f"{bad} of {total} segments have more than one gt color"
    assert split == 0, f"{split} segments are split in several pieces"


def test_lines(pairs):
    n_color = 0
    for ref, tgt in pairs["consecutive"] + pairs["keyframe"]:
        for f in (ref, tgt):
            line, gt = f.line, f.gt
            assert line.shape == gt.shape and line.dtype == np.uint8
            black = np.all(line == (0, 0, 0, 255), axis=-1)
            assert black.any()
            # black lines identical in line art and gt, and only there
            assert np.array_equal(black, np.all(gt == (0, 0, 0, 255), axis=-1))
            assert np.array_equal(black, f.part_map == 0)
            # line art holds only black, pure R/G/B, and paper
            vals = np.unique(pack_rgba(line.reshape(-1, 4)))
            allowed = pack_rgba(np.array([[0, 0, 0, 255], [255, 0, 0, 255], [0, 255, 0, 255],
                                          [0, 0, 255, 255], [255, 255, 255, 0],
                                          [255, 255, 255, 255]], np.uint8))
            assert set(vals.tolist()) <= set(allowed.tolist())
            colored = np.all(line[..., :3] == (255, 0, 0), -1) | np.all(line[..., :3] == (0, 0, 255), -1)
            n_color += int(colored.sum())
            assert gt[..., 3].min() == 0 or f.meta.get("paper") is not None
    assert n_color > 0, "no red/blue shading lines were drawn"


def _colors(frame):
    labels, n = segment_line_art(frame.line)
    cols = segment_colors(labels, n, frame.gt)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    return pack_rgba(cols), area


def test_correspondence_consecutive(pairs):
    hit = tot = 0
    for ref, tgt in pairs["consecutive"]:
        rc, _ = _colors(ref)
        tc, area = _colors(tgt)
        big = area > 10
        hit += int(np.isin(tc[big], rc).sum())
        tot += int(big.sum())
    assert tot > 50
    assert hit / tot > 0.9, f"only {hit}/{tot} target segment colors appear in the reference"


def test_palette_is_per_character():
    clip = synth.make_clip(7, 3, SIZE, "keyframe", n_chars=2)
    a, b = clip.specs
    # eye highlights are plain white for everybody (one material); all else is per character
    ca = {tuple(int(v) for v in c) for m, t in a.palette.items() if m != "eye_hl" for c in t}
    cb = {tuple(int(v) for v in c) for m, t in b.palette.items() if m != "eye_hl" for c in t}
    shared = ca & cb
    assert not shared, shared
    # the same character keeps its colors in every frame and in the sheet
    cols = [set(_colors(f)[0].tolist()) for f in clip.frames + [clip.reference]]
    common = set.intersection(*cols)
    assert len(common) >= 5


def test_write_clip(tmp_path):
    clip = synth.make_clip(3, 2, 256, "consecutive")
    out = synth.write_clip(clip, tmp_path / "c")
    for sub in ("line", "gt", "seg"):
        assert (out / sub / "0000.png").is_file()
        assert (out / "ref" / sub / "0000.png").is_file()
    table = json.loads((out / "seg" / "0001.json").read_text())
    from dacon_engine.fileio.labelmap import read_label_map

    lab = read_label_map(out / "seg" / "0001.png")
    assert len(table) == lab.max()
    assert all(len(v) == 4 for v in table.values())


def test_timing():
    synth.make_pair(0, 512, "consecutive")
    t = time.perf_counter()
    n = 6
    for s in range(n):
        synth.make_pair(s, 512, "consecutive" if s % 2 else "keyframe")
    dt = (time.perf_counter() - t) / n
    print(f"\nsynth: {dt * 1000:.1f} ms per 512x512 pair")


@pytest.mark.parametrize("mode", ["black", "none"])
def test_tone_modes(mode):
    rng = np.random.default_rng(5)
    spec = synth.generate_character(rng)
    f = synth.render_frame(spec, synth.random_pose(rng, "bust"), SIZE, rng, tone_mode=mode)
    assert not np.any(np.all(f.line[..., :3] == (0, 0, 255), -1) & (f.line[..., 3] == 255))
    assert _segments_single_colored(f)[1] == 0
    colors = {tuple(c) for c in f.gt.reshape(-1, 4)[::7]}
    assert len(colors) > 8


def test_bundled_sample():
    from pathlib import Path

    from dacon_engine.fileio.images import read_image

    root = Path(synth.__file__).resolve().parents[1] / "assets" / "sample_clip"
    files = sorted(p for p in root.rglob("*.png"))
    assert [p.relative_to(root).as_posix() for p in files] == [
        "line/0001.png", "line/0002.png", "line/0003.png", "line/0004.png",
        "ref/gt/0000.png", "ref/line/0000.png"]
    assert sum(p.stat().st_size for p in files) < 1.5e6
    ref_line, ref_gt = read_image(root / "ref/line/0000.png"), read_image(root / "ref/gt/0000.png")
    assert ref_line.shape == ref_gt.shape and ref_line.shape[0] <= 768
    assert _segments_single_colored(type("F", (), {"line": ref_line, "gt": ref_gt})())[1] == 0
