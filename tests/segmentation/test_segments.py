from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.measure import label as sk_label

from dacon_engine.errors import DaconError
from dacon_engine.fileio.images import read_image, write_png
from dacon_engine.fileio.labelmap import read_label_map
from dacon_engine.options import LineOptions
from dacon_engine.segmentation import segments as seg_mod
from dacon_engine.segmentation.segments import (
    line_mask,
    segment_frame,
    segment_line_art,
    segments_from_color,
)

FIXED, ADAPTIVE = LineOptions(mode="fixed"), LineOptions(mode="adaptive")

BLACK = (0, 0, 0, 255)
RED, GREEN, BLUE = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)


def _assert_subset_partition(fine: np.ndarray, coarse: np.ndarray) -> None:
    """Every label of ``fine`` lies inside one label of ``coarse``; same line pixels."""
    assert ((fine == 0) == (coarse == 0)).all()
    owner = np.zeros(int(fine.max()) + 1, coarse.dtype)
    owner[fine.ravel()] = coarse.ravel()  # some pixel's coarse label per fine label
    assert (owner[fine] == coarse).all()  # ... and every pixel agrees with it


# --- PaintBucket parity --------------------------------------------------------------

def test_parity_with_paintbucket_seg(paintbucket_sample):
    line = read_image(paintbucket_sample / "line.png")
    theirs = read_label_map(paintbucket_sample / "seg.png")
    ours, n = segment_line_art(line)
    assert n == 274 == theirs.max()
    assert ((ours == 0) == (theirs == 0)).all()
    a, b = ours.ravel().astype(np.int64), theirs.ravel().astype(np.int64)
    pairs = np.unique(a * (1 << 24) + b)  # (ours, theirs) pairs
    assert pairs.size == 275  # 274 regions + the line pair (0, 0)
    assert np.unique(pairs >> 24).size == 275 and np.unique(pairs & 0xFFFFFF).size == 275


# --- line mask -------------------------------------------------------------------------

def test_transparent_pixels_are_paper_whatever_their_rgb(paper):
    img = paper(4, 5)
    img[0, :] = (0, 0, 0, 0)      # transparent, black stored
    img[1, :] = BLACK             # opaque black line
    img[2, :] = (0, 0, 0, 127)    # faint
    img[2, 0] = (0, 0, 0, 126)
    img[3, :] = (255, 255, 255, 255)  # opaque white paper
    m = line_mask(img)
    assert not m[0].any() and m[1].all() and not m[3].any()
    assert m[2, 1:].all() and not m[2, 0]  # black alpha >= 127 is line (BasicPBC's rule)


def test_rgb_input_and_threshold(paper):
    img = np.full((2, 3, 3), 255, np.uint8)
    img[0, 0] = (100, 100, 100)
    img[0, 1] = (200, 200, 200)
    assert line_mask(img).tolist() == [[True, False, False], [False, False, False]]
    assert line_mask(img, threshold=210)[0, 1]


def test_pure_color_lines_are_boundaries(paper):
    for color in (RED, GREEN, BLUE):
        img = paper(5, 9)
        img[:, 4] = color
        m = line_mask(img)
        assert m[:, 4].all() and m.sum() == 5
    img = paper(3, 3)
    img[1, 1] = (0, 255, 0, 100)  # not opaque: paper
    assert not line_mask(img).any()


# --- default segmentation ----------------------------------------------------------------

def test_four_connectivity_and_raster_numbering(paper):
    img = paper(4, 4)
    img[0, 1] = img[1, 0] = BLACK  # (0,0) touches the rest only diagonally
    img[2, :] = BLACK
    labels, n = segment_line_art(img)
    assert n == 3
    assert labels[0, 0] == 1 and labels[0, 2] == 2 and labels[1, 1] == 2 and labels[3, 0] == 3
    assert (labels[2] == 0).all() and labels.dtype == np.int32


def test_color_line_joins_smallest_neighbour(paper):
    img = paper(10, 12)
    img[:, 3] = BLACK      # left region 10x3 = 30 px
    img[:, 8] = RED        # red between middle (10x4 = 40 px) and right (10x3 = 30 px)
    img[:, 9] = BLACK
    img[:5, 9] = (255, 255, 255, 0)  # red touches right region via the open half
    labels, n = segment_line_art(img)
    # regions: left (30), middle (40), right (10x2 + 5 = 25): red joins right (smallest)
    assert n == 3
    assert (labels[:, 8] == labels[0, 10]).all() and labels[0, 10] != labels[0, 5]
    assert (labels[:, 3] == 0).all() and (labels[5:, 9] == 0).all()


def test_color_line_new_segment_cases(paper):
    img = paper(12, 12)
    img[5, 5] = RED                  # dot inside the region: touches 1 -> new segment
    img[0:3, 9:12] = BLACK
    img[1, 10] = BLUE                # inside black: touches nothing -> new segment
    labels, n = segment_line_art(img)
    assert n == 3
    assert labels[5, 5] == 2 and labels[1, 10] == 3 and labels[0, 0] == 1


def test_color_line_touching_only_new_segments_stays_line(paper):
    img = paper(9, 9)
    img[0:5, 0:5] = BLACK
    img[2, 1] = RED   # isolated in black -> new segment 2
    img[2, 2] = BLUE  # touches only the new red segment -> stays line
    labels, n = segment_line_art(img)
    assert n == 2 and labels[2, 1] == 2 and labels[2, 2] == 0


def _oracle(rgba: np.ndarray) -> tuple[np.ndarray, int]:
    """Slow per-component statement of the BasicPBC default rule (see segments.py)."""
    lab = sk_label(~line_mask(rgba), connectivity=1).astype(np.int32)
    n = int(lab.max())
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    cur = n
    for color in ((255, 0, 0), (0, 0, 255), (0, 255, 0)):
        m = (rgba[..., :3] == color).all(-1) & (rgba[..., 3] >= 128)
        comps = sk_label(m, connectivity=2)
        for i in range(1, comps.max() + 1):
            cm = comps == i
            ring = ndi.binary_dilation(cm) & ~cm  # cross footprint
            touched = set(lab[ring].tolist()) - {0}
            orig = sorted(t for t in touched if t <= n)
            if len(orig) >= 2:
                lab[cm] = min(orig, key=lambda t: (areas[t], t))
            elif len(orig) == 1 or not touched:
                cur += 1
                lab[cm] = cur
    return lab, cur


@pytest.mark.parametrize("seed", range(12))
def test_color_lines_match_per_component_oracle(paper, seed):
    rng = np.random.default_rng(seed)
    img = paper(40, 48)
    colors = [BLACK, BLACK, BLACK, RED, GREEN, BLUE]
    for _ in range(14):
        c = colors[rng.integers(len(colors))]
        y, x = rng.integers(0, 40), rng.integers(0, 48)
        if rng.random() < 0.5:
            img[y, x:x + rng.integers(1, 30)] = c
        else:
            img[y:y + rng.integers(1, 30), x] = c
    for _ in range(8):  # dots
        img[rng.integers(0, 40), rng.integers(0, 48)] = colors[rng.integers(3, 6)]
    ours, n = segment_line_art(img)
    want, m = _oracle(img)
    assert n == m
    assert (ours == want).all()


def test_min_region_merge(paper):
    img = paper(8, 8)
    img[:, 4] = BLACK
    img[3, 5:] = BLACK
    img[5, 5:] = BLACK
    img[4, 6] = BLACK      # (4,5) and (4,7): 1-px regions
    img[3, 6] = (255, 255, 255, 0)  # both touch the top-right region only diagonally
    img[0:3, 0:3] = BLACK
    img[1, 1] = (255, 255, 255, 0)  # (1,1): 1-px region with no neighbour at all
    _, n = segment_line_art(img)
    assert n == 6
    merged, m = segment_line_art(img, min_region=1)
    assert m == 3
    assert merged[1, 1] == 0                                  # isolated -> line
    assert merged[4, 5] == merged[4, 7] == merged[0, 7] != merged[7, 7]  # 8-neighbour
    assert sorted(np.unique(merged).tolist()) == [0, 1, 2, 3]
    assert merged[0, 3] == 1 and merged[0, 5] == 2 and merged[7, 7] == 3  # raster order


# --- gap closing -------------------------------------------------------------------------

def _gapped(paper) -> np.ndarray:
    img = paper(40, 60)
    img[19:21, :] = BLACK            # closed split: top / bottom
    img[:, 29:31] = BLACK            # vertical line with a 3-px gap in each half
    img[8:11, 29:31] = (255, 255, 255, 0)
    img[28:31, 29:31] = (255, 255, 255, 0)
    return img


def test_gap_closing_splits_and_never_merges(paper):
    img = _gapped(paper)
    base, n0 = segment_line_art(img)
    assert n0 == 2
    split, n = segment_line_art(img, gap_radius=3)
    assert n == 4
    _assert_subset_partition(split, base)  # line pixels unchanged, regions only split
    assert split[2, 2] != split[2, 57] and split[37, 2] != split[37, 57]
    assert len({split[2, 2], split[2, 57], split[37, 2], split[37, 57]}) == 4


def test_gap_closing_keeps_thin_regions_whole(paper):
    img = paper(30, 40)
    img[10, :] = BLACK
    img[14, :] = BLACK   # a 3-px strip: the ball never fits, it must stay one segment
    base, n0 = segment_line_art(img)
    split, n = segment_line_art(img, gap_radius=4)
    assert n == n0 == 3
    _assert_subset_partition(split, base)


def test_gap_closing_random_art_is_a_refinement(paper):
    rng = np.random.default_rng(5)
    img = paper(64, 64)
    for _ in range(30):
        y, x = rng.integers(0, 64, 2)
        if rng.random() < 0.5:
            img[y, x:x + rng.integers(3, 40)] = BLACK
        else:
            img[y:y + rng.integers(3, 40), x] = BLACK
    base, _ = segment_line_art(img)
    for r in (1, 2, 4):
        split, n = segment_line_art(img, gap_radius=r)
        _assert_subset_partition(split, base)
        assert split.max() == n and np.unique(split).size == n + 1


# --- errors, frames, colored frames ----------------------------------------------------

def test_all_line_image_errors(tmp_path, paper):
    img = paper(5, 5)
    img[:] = BLACK
    with pytest.raises(DaconError, match="no regions found"):
        segment_line_art(img)
    write_png(tmp_path / "black.png", img)
    with pytest.raises(DaconError) as e:
        segment_frame(tmp_path / "black.png")
    assert str(e.value).startswith(str(tmp_path / "black.png") + ": no regions found")


def test_too_many_segments(monkeypatch, paper):
    img = paper(5, 5)
    img[:, 1::2] = BLACK
    monkeypatch.setattr(seg_mod, "MAX_LABEL", 2)
    with pytest.raises(DaconError, match="more than 2 segments"):
        segment_line_art(img)


def test_segment_frame_keeps_line_as_read(tmp_path, paper):
    img = paper(6, 6)
    img[:, 2] = BLACK
    img[0, 0] = (9, 9, 9, 0)
    write_png(tmp_path / "f.png", img)
    fr = segment_frame(tmp_path / "f.png")
    assert (fr.line == img).all() and fr.n_segments == 2 and fr.path == tmp_path / "f.png"
    assert fr.areas().tolist() == [12, 18]
    fr2 = segment_frame(img, gap_radius=0)
    assert (fr2.labels == fr.labels).all()


def test_segments_from_color():
    img = np.zeros((6, 8, 4), np.uint8)          # transparent, stored black
    img[0, :4] = (5, 5, 5, 0)                    # transparent, other RGB: same color
    img[:, 4] = (20, 30, 10, 255)                # near-black line
    img[:3, 5:] = (200, 10, 10, 255)
    img[3:, 5:] = (10, 200, 10, 255)
    img[4, 6] = (0, 0, 255, 255)                 # blue dot inside the green region
    img[2, 6] = (0, 0, 255, 255)                 # blue dot between red and green
    labels, n = segments_from_color(img)
    assert (labels[:, 4] == 0).all()
    assert np.unique(labels[:, :4]).size == 1 and labels[0, 0] == 1
    assert labels[0, 5] == 2 and labels[5, 5] == 3 and labels[4, 6] == 4 and n == 4
    assert labels[2, 6] == 2  # 8 px each: the tie goes to the lower label


@pytest.mark.parametrize("seed", range(4))
def test_equal_color_components_matches_skimage(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 3, (37, 41)).astype(np.uint32)
    valid = rng.random((37, 41)) < 0.9
    labels, n = seg_mod.equal_color_components(ids, valid)
    want = sk_label(np.where(valid, ids.astype(np.int64) + 1, 0), background=0, connectivity=1)
    assert n == want.max() and (labels == want).all()


def _merged_gt_regions(ours: np.ndarray, theirs: np.ndarray, ignore: np.ndarray) -> int:
    """How many ground-truth regions share one of our segments with another GT region."""
    ok = (ours > 0) & (theirs > 0) & ~ignore
    pairs = np.unique(ours[ok].astype(np.int64) * (1 << 24) + theirs[ok])
    o = pairs >> 24
    per_ours = np.bincount(o)
    return int((per_ours[o] > 1).sum())


def test_gap_closing_recovers_punched_gaps(paintbucket_sample):
    """Punch 60 4x4 holes into the real line art: gap closing must undo most merges."""
    line = read_image(paintbucket_sample / "line.png")
    theirs = read_label_map(paintbucket_sample / "seg.png")
    rng = np.random.default_rng(0)
    ys, xs = np.nonzero(line[..., 3] > 127)
    holes = np.zeros(line.shape[:2], bool)
    for i in rng.choice(ys.size, 60, replace=False):
        holes[ys[i] - 2:ys[i] + 2, xs[i] - 2:xs[i] + 2] = True
    gapped = line.copy()
    gapped[holes] = (255, 255, 255, 0)
    leaky, _ = segment_line_art(gapped)
    closed, _ = segment_line_art(gapped, gap_radius=4)
    _assert_subset_partition(closed, leaky)
    before = _merged_gt_regions(leaky, theirs, holes)
    after = _merged_gt_regions(closed, theirs, holes)
    assert before >= 30 and after <= before // 3, (before, after)  # measured 46 -> 10


def test_tiny_images(paper):
    one = paper(1, 1)
    assert segment_line_art(one)[1] == 1 and segment_line_art(one, gap_radius=0)[1] == 1
    with pytest.raises(DaconError, match="too large for this 1x1 frame"):
        segment_line_art(one, gap_radius=3)  # closing gaps wider than the frame means nothing
    assert not line_mask(one).any() and segments_from_color(one)[1] == 1
    one[0, 0] = RED  # a lone color-line pixel touches nothing: a new segment
    labels, n = segment_line_art(one)
    assert n == 1 and labels.tolist() == [[1]] and labels.flags.c_contiguous


def test_gap_closing_with_more_than_65535_cores(paper):
    img = paper(1100, 1100)
    img[::4, :] = BLACK
    img[:, ::4] = BLACK  # 275 x 275 closed 3x3 cells, each with a 1-px core for r = 1
    plain, n0 = segment_line_art(img)
    split, n = segment_line_art(img, gap_radius=1)
    assert n == n0 == 275 * 275 and (split == plain).all()


# --- the pixel rule, input checks and keyword pass-through ----------------------------------

def test_line_mask_composites_semi_transparent_pixels_on_white():
    px = np.array([[(0, 0, 0, 255), (0, 0, 0, 127), (0, 0, 0, 126), (100, 100, 100, 200),
                    (255, 255, 255, 200), (255, 0, 0, 128), (255, 0, 0, 127)]], np.uint8)
    # composited luminance: 0, 128, 129, 100*200/255 + 55 = 133, 200 + 55 = 255; red at
    # alpha 128 is an (opaque enough) color line, at 127 it is not
    assert line_mask(px).tolist() == [[True, True, False, False, False, True, False]]
    assert line_mask(px, threshold=133)[0, 3] and not line_mask(px, threshold=132)[0, 3]
    assert not line_mask(px, threshold=254)[0, 4]   # semi-transparent white stays paper
    opaque = px.copy()
    opaque[..., 3] = 255
    assert (line_mask(px[..., :3]) == line_mask(opaque)).all()  # RGB = opaque RGBA


@pytest.mark.parametrize("bad", [np.zeros((2, 2), np.uint8), np.zeros((2, 2, 4), np.float32),
                                 np.zeros((2, 2, 5), np.uint8)])
def test_pixels_must_be_hxwx3_or_4_uint8(bad):
    with pytest.raises(ValueError, match=r"expected (a uint8 image|an HxWx3 or HxWx4 image)"):
        line_mask(bad)


def test_segment_limit_is_inclusive_and_names_the_file(monkeypatch, tmp_path, paper):
    img = paper(5, 5)
    img[:, 2] = BLACK
    monkeypatch.setattr(seg_mod, "MAX_LABEL", 2)
    assert segment_line_art(img)[1] == 2             # exactly the limit: fine
    img[2, :2] = BLACK                                # a third region
    write_png(tmp_path / "f.png", img)
    with pytest.raises(DaconError) as e:
        segment_frame(tmp_path / "f.png")
    assert str(e.value) == f"{tmp_path / 'f.png'}: more than 2 segments"


def test_segment_frame_passes_keywords_and_path(tmp_path, paper):
    img = _gapped(paper)
    fr = segment_frame(img, gap_radius=3, path="shot/0007.png")
    assert fr.n_segments == 4 and fr.path == Path("shot/0007.png")
    assert fr.line_art["line_mode"] == "fixed" and fr.line_art["gap_radius"] == 3
    write_png(tmp_path / "g.png", img)
    fr = segment_frame(tmp_path / "g.png", path="ignored.png")  # a file names itself
    assert fr.path == tmp_path / "g.png" and fr.n_segments == 2
    black = paper(3, 3)
    black[:] = BLACK
    with pytest.raises(DaconError) as e:
        segment_frame(black, path="shot/0008.png")
    assert str(e.value).startswith("shot/0008.png: no regions found")


def test_segment_line_art_passes_its_options_on(paper):
    img = paper(10, 10)
    img[:, 5] = (150, 150, 150, 255)                  # a mid-grey line
    assert segment_line_art(img, line_options=FIXED)[1] == 1
    assert segment_line_art(img, line_options=FIXED, threshold=160)[1] == 2
    img[:, 5] = (250, 200, 150, 255)                  # a light orange line, named
    assert segment_line_art(img, line_options=FIXED)[1] == 1
    labels, n = segment_line_art(img, line_options=LineOptions(
        mode="fixed", line_colors=("250,200,150",)))
    assert n == 2 and (labels[:, 5] == 0).all()
    black = paper(3, 3)
    black[:] = BLACK
    with pytest.raises(DaconError, match="^x.png: no regions found"):
        segment_line_art(black, path="x.png")


def test_segmentation_record_and_classes(paper):
    from dacon_engine.segmentation.segments import (
        PIXEL_LINE,
        PIXEL_REGION,
        segment_line_art_details,
    )

    img = _gapped(paper)
    labels, n, info, cls = segment_line_art_details(img)
    assert cls is None and n == 2                     # classes only when asked for
    assert info["line_mode"] == "fixed" and info["requested"] == "auto"
    assert info["threshold"] == 128 and info["gap_radius"] == 0
    assert info["line_colors"] == [] and info["specks"] == 0 and info["speck_pixels"] == 0
    *_, cls = segment_line_art_details(img, classes=True)
    assert cls.dtype == np.uint8
    assert ((cls == PIXEL_LINE) == (labels == 0)).all() and (cls[labels > 0] == PIXEL_REGION).all()
    info = segment_line_art_details(img, line_options=ADAPTIVE)[2]
    assert info["line_mode"] == "adaptive" and "threshold" not in info
    assert set(info["levels"]) >= {"paper", "ink"}


def test_gap_radius_one_and_its_limit_name_the_frame(paper):
    img = paper(9, 9)
    img[4, :] = BLACK
    img[4, 4] = (255, 255, 255, 0)                    # a 1-px gap
    assert segment_line_art(img)[1] == 1
    assert segment_line_art(img, gap_radius=1)[1] == 2
    assert segment_line_art(img, gap_radius=1, line_options=ADAPTIVE)[1] == 2
    with pytest.raises(DaconError) as e:
        segment_line_art(img, gap_radius=5, path="f.png")
    assert str(e.value) == "f.png: --gap-radius 5: too large for this 9x9 frame (at most 4)"
    with pytest.raises(DaconError, match="too large for this 1x1 frame"):
        segment_line_art(paper(1, 1), gap_radius=1)  # at most 1 // 2 = 0


def test_adaptive_mode_merges_specks_of_paper_and_of_color_line(paper):
    from dacon_engine.segmentation.segments import PIXEL_SPECK, segment_line_art_details

    img = paper(20, 20)
    img[:, 8:13] = BLACK                       # a thick line between two regions, holding
    img[9:12, 10] = RED                        # a 3-px piece of red trace line
    img[2:4, 9:11] = (255, 255, 255, 255)      # and a 2x2 hole of paper
    labels, n, info, _ = segment_line_art_details(img, line_options=FIXED)
    assert n == 4 and info["specks"] == 0      # fixed mode: both are segments of their own
    assert labels[10, 10] == 4 and labels[2, 9] == 3  # raster order, then the new piece
    labels, n, info, cls = segment_line_art_details(img, line_options=ADAPTIVE, classes=True)
    assert n == 2 and info["specks"] == 2 and info["speck_pixels"] == 7
    spots = np.zeros((20, 20), bool)
    spots[9:12, 10] = spots[2:4, 9:11] = True
    assert ((cls == PIXEL_SPECK) == spots).all()
    assert (labels[spots] > 0).all() and set(np.unique(labels).tolist()) == {0, 1, 2}
    assert labels[0, 0] == 1 and labels[0, 19] == 2


def test_specks_with_gap_closing_and_trace_specks_alone(paper):
    from dacon_engine.segmentation.segments import segment_line_art_details

    img = paper(20, 20)
    img[:, 8:13] = BLACK
    img[9:12, 10] = RED                        # a 3-px trace piece, the only speck
    labels, n, info, _ = segment_line_art_details(img, line_options=ADAPTIVE)
    assert n == 2 and info["specks"] == 1 and info["speck_pixels"] == 3
    img[2:4, 9:11] = (255, 255, 255, 255)      # plus a paper hole, with gap closing on
    labels, n, info, _ = segment_line_art_details(img, line_options=ADAPTIVE, gap_radius=1)
    assert n == 2 and info["specks"] == 2 and (labels[2:4, 9:11] > 0).all()
    assert labels[0, 0] == 1 and labels[0, 19] == 2 and labels.max() == 2
    big = paper(20, 20)
    big[:, 8:13] = BLACK
    big[9:12, 9:12] = RED                      # 9 px: still a speck (at most 9)
    assert segment_line_art_details(big, line_options=ADAPTIVE)[2]["specks"] == 1
    big[9:12, 9:13] = RED                      # 12 px: a segment of its own
    assert segment_line_art_details(big, line_options=ADAPTIVE)[1] == 3


def test_min_region_can_leave_no_region(paper):
    with pytest.raises(DaconError, match="no regions found"):
        segment_line_art(paper(3, 3), min_region=9)  # the only region is small and alone
    assert segment_line_art(paper(3, 3), min_region=8)[1] == 1


def test_label_areas_and_runs_on_tiny_and_empty_maps():
    from dacon_engine.segmentation.components import label_areas, label_runs

    one = np.array([[3]], np.int32)
    assert label_areas(one, 3).tolist() == [0, 0, 0, 1]
    starts, lengths, labs = label_runs(one)
    assert starts.tolist() == [0] and lengths.tolist() == [1] and labs.tolist() == [3]
    flat = np.full((2, 3), 2, np.int32)
    assert label_areas(flat, 4).tolist() == [0, 0, 6, 0, 0]
    empty = np.zeros((0, 3), np.int32)
    areas = label_areas(empty, 2)
    assert areas.tolist() == [0, 0, 0] and areas.dtype == np.int64
    starts, lengths, labs = label_runs(empty)
    assert starts.size == lengths.size == labs.size == 0
    assert starts.dtype == lengths.dtype == np.int64 and labs.dtype == np.int32
    assert label_areas(np.array([[1, 1, 0, 2]], np.int32), 2).dtype == np.int64


def test_equal_color_components_takes_a_0_1_mask():
    ids = np.array([[1, 1, 2], [1, 2, 2]], np.uint32)
    valid = np.array([[1, 0, 1], [1, 1, 1]], np.uint8)
    labels, n = seg_mod.equal_color_components(ids, valid)
    want, m = seg_mod.equal_color_components(ids, valid.astype(bool))
    assert n == m == 2 and (labels == want).all() and labels[0, 1] == 0


@pytest.mark.parametrize("turns", range(4))
def test_small_region_joins_a_neighbour_touching_only_at_a_corner(paper, turns):
    img = paper(7, 7)
    img[:] = BLACK
    img[0:3, 0:3] = (255, 255, 255, 0)         # a 9-px region ...
    img[3, 3] = (255, 255, 255, 0)             # ... touching a 1-px one at its corner only
    img = np.ascontiguousarray(np.rot90(img, turns))
    _, n = segment_line_art(img)
    assert n == 2
    labels, n = segment_line_art(img, min_region=1)
    assert n == 1 and labels[3, 3] == 1 and (labels > 0).sum() == 10


@pytest.mark.parametrize("turns", range(4))
def test_color_line_pixels_touching_only_diagonally_are_one_piece(paper, turns):
    img = paper(7, 7)
    img[:] = BLACK
    for i in range(1, 6):
        img[i, i] = RED                        # a diagonal red line touching no region
    img[0, 6] = (255, 255, 255, 0)
    img = np.ascontiguousarray(np.rot90(img, turns))
    labels, n = segment_line_art(img)
    assert n == 2 and len(set(labels[labels > 0].tolist())) == 2
    red = (img[..., 0] == 255) & (img[..., 1] == 0)
    assert len(set(labels[red].tolist())) == 1  # one 8-connected piece: one new segment


# --- small-region merging (min_region) ------------------------------------------------

def _canvas(paper, rows: list[str]) -> np.ndarray:
    """Line art from a picture: '#' black line, anything else paper."""
    img = paper(len(rows), len(rows[0]))
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            if ch == "#":
                img[y, x] = BLACK
    return img


def test_min_region_specks_join_their_smallest_neighbour_and_big_regions_stay(paper):
    img = _canvas(paper, ["aa#bbb",
                          "aa#bbb",
                          "a#s#bb",    # 1-px regions touching a (10 px) and b (16 px)
                          "aa#bbb",    # at their corners
                          "a#s#bb",
                          "aa#bbb",
                          "######",
                          "ccc#dd"])   # two regions too big to merge, numbered last
    labels, n = segment_line_art(img)
    assert n == 6 and labels[7, 0] == 5 and labels[7, 5] == 6
    merged, m = segment_line_art(img, min_region=1)
    assert m == 4
    assert merged[2, 2] == merged[4, 2] == merged[0, 0] == 1     # the smaller neighbour
    assert merged[0, 5] == 2 and merged[7, 0] == 3 and merged[7, 5] == 4
    assert ((merged == 0) == (labels == 0)).all()                # no speck became line


def test_min_region_speck_never_joins_the_line(paper):
    # the line (4 px) is smaller than the only region the speck touches: still the region
    img = paper(9, 9)
    img[3, 4] = img[5, 4] = img[4, 3] = img[4, 5] = BLACK
    labels, n = segment_line_art(img, min_region=1)
    assert n == 1 and labels[4, 4] == 1 and (labels == 0).sum() == 4


@pytest.mark.parametrize("transpose", [False, True])
def test_min_region_corner_neighbour_on_the_image_edge(paper, transpose):
    img = _canvas(paper, ["aaaa#",
                          "####s",     # touches a only at a's last pixel's corner
                          "#####"])
    if transpose:
        img = np.ascontiguousarray(img.transpose(1, 0, 2))
    labels, n = segment_line_art(img, min_region=1)
    s = (4, 1) if transpose else (1, 4)
    assert n == 1 and labels[s] == 1 and (labels > 0).sum() == 5


# --- color lines at the border and without regions -------------------------------------

@pytest.mark.parametrize("turns", range(4))
def test_color_line_next_to_the_border_joins_the_thin_strip_beyond_it(paper, turns):
    img = paper(6, 7)
    img[:, 5] = RED                 # a 5-column region, the red line, a 1-column strip
    img = np.ascontiguousarray(np.rot90(img, turns))
    labels, n = segment_line_art(img)
    red = (img[..., 0] == 255) & (img[..., 1] == 0) & (img[..., 3] == 255)
    assert n == 2
    strip = np.rot90(np.pad(np.ones((6, 1), bool), ((0, 0), (6, 0))), turns)
    assert len(set(labels[red | strip].tolist())) == 1      # red joined the strip (6 px)
    assert labels[red].min() != labels[~(red | strip)].min()


def test_color_lines_in_a_frame_without_regions(paper):
    img = paper(5, 5)
    img[:] = BLACK
    img[2, 1] = RED     # touches nothing: new segment 1
    img[2, 2] = BLUE    # touches only that new segment: stays line
    labels, n = segment_line_art(img)
    assert n == 1 and labels[2, 1] == 1 and labels[2, 2] == 0 and (labels > 0).sum() == 1


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((1, 4, 3, 3), np.uint8)])
def test_segment_line_art_refuses_what_is_not_one_image(bad):
    with pytest.raises(ValueError, match=r"expected (a uint8 image|an HxWx3 or HxWx4 image)"):
        segment_line_art(bad)
