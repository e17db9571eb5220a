"""lineart.py's own line decisions, on tiny arrays: the clean-art test, the adaptive
candidate rule, color classification, specks, LineRules and at_least."""

from __future__ import annotations

import numpy as np
import pytest

from dacon_engine.options import LineOptions
from dacon_engine.segmentation import lineart as la

WHITE, BLACK, RED, BLUE = (255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 0, 255)


def _rgb(rows: list[list[tuple[int, int, int]]]) -> np.ndarray:
    return np.array(rows, np.uint8)


def _gray(n: int = 1000, ink: int = 100) -> np.ndarray:
    """1 x n luminance: paper 255 and ``ink`` pixels of 0 (clean, two-level)."""
    g = np.full((1, n), 255, np.uint8)
    g[0, :ink] = 0
    return g


def _points(p) -> list[tuple[int, int]]:
    return [] if p is None else list(zip(p[0].tolist(), p[1].tolist()))


# -- at_least ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (2, 2), (1, 4), (4, 1), (1, 5),
                                   (3, 3)])
def test_at_least_is_255_where_at_or_above_the_value_on_tiny_images(shape):
    """(OpenCV takes a 1x1 or 4x1 array for a scalar: a (4, 1) comparison goes wrong.)"""
    a = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape) * 10
    out = la.at_least(a, 20)
    assert out.dtype == np.uint8 and out.shape == shape
    assert out.tolist() == np.where(a >= 20, 255, 0).tolist()  # 20 itself is in


# -- clean art: fixed or adaptive ----------------------------------------------------------
def test_is_clean_two_levels_and_the_mid_grey_budget():
    g = _gray()
    assert la.is_clean(g)
    g[0, 200:202] = 128  # 2 of 1000 mid-grey pixels: 0.2 %, allowed
    assert la.is_clean(g)
    g[0, 202] = 128      # 3: too many
    assert not la.is_clean(g)
    assert la.is_clean(g, exempt=1)  # ... unless one is exactly a trace / line color
    g[0, 200:203] = (23, 232, 255)   # just outside the grey band 24..231
    assert la.is_clean(g)


def test_is_clean_wants_one_exact_paper_level():
    g = _gray()
    g[0, 500:503] = 250  # paper noise within 12 levels of the paper (not mid grey)
    assert not la.is_clean(g)
    g[0, 500:503] = 243  # 12 levels away: still near
    assert not la.is_clean(g)
    g[0, 500:503] = 242  # 13 levels away: no longer "near" the paper
    assert la.is_clean(g)
    assert la.is_clean(g, hist=la.gray_histogram(g))


def test_adaptive_candidates_strong_weak_and_half_the_local_maximum():
    lv = la.PaperInk(paper=255, paper_rgb=np.full(3, 255, np.float32), noise=1.0, ink=0,
                     strong=50, weak=10)
    dark = np.array([[60, 0, 0, 0, 20, 30, 0, 0, 5, 0, 0, 20, 60]], np.uint8)
    cand, strong = la._line_candidates(dark, lv)
    assert (strong > 0).tolist() == (dark >= 50).tolist()
    got = np.flatnonzero(cand[0]).tolist()
    # 60s strong; 20 next to 30 is at least half its darkest neighbour; 30 itself; 5 is
    # under weak; the 20 next to a 60 is the soft fringe of a dark line
    assert got == [0, 4, 5, 12]


def test_adaptive_candidates_on_a_tiny_image():
    lv = la.PaperInk(255, np.full(3, 255, np.float32), 1.0, 0, strong=50, weak=10)
    cand, strong = la._line_candidates(np.array([[60, 12]], np.uint8), lv)
    assert (cand[0] > 0).tolist() == [True, False] and (strong[0] > 0).tolist() == [True, False]


# -- colors -----------------------------------------------------------------------------
def test_classify_colors_fixed_trace_and_line_colors():
    rules = la.LineRules.make(LineOptions(line_colors=("brown",)))
    brown = (120, 70, 30)
    rgb = _rgb([[RED, WHITE, BLUE, BLACK, brown, (0, 255, 0)],
                [(255, 127, 127), (255, 140, 140), (127, 127, 255), WHITE, WHITE, WHITE]])
    c = la.classify_colors(rgb, rules, None, 0.0, adaptive=False)
    # red: pure, and a half-coverage red (absorption 0.5 of red's): coverage >= 0.5
    assert _points(c.trace[0]) == [(0, 0), (0, 1)]
    assert _points(c.trace[1]) == [(2, 0), (2, 1)]  # blue, in raster order
    assert _points(c.trace[2]) == [(5, 0)]          # green
    assert _points(c.line) == [(4, 0)]              # the user's line color
    assert len(c.trace) == 3


def test_classify_colors_without_colors_and_with_chosen_trace_colors():
    rgb = _rgb([[RED, BLUE, WHITE]])
    none = la.classify_colors(rgb, la.LineRules(trace_colors=()), None, 0.0, adaptive=False)
    assert none.trace == [] and none.line is None
    only_blue = la.LineRules.make(LineOptions(trace_colors=("blue",)))
    c = la.classify_colors(rgb, only_blue, None, 0.0, adaptive=False)
    assert len(c.trace) == 1 and _points(c.trace[0]) == [(1, 0)] and c.line is None


def test_classify_colors_adaptive_keeps_faint_pieces_that_reach_a_stronger_pixel():
    rules = la.LineRules.make()
    paper = np.full(3, 255, np.float32)
    faint = (255, 190, 190)  # red at coverage ~0.25: over 0.15, under 0.3
    alone = _rgb([[faint, WHITE, WHITE, WHITE, WHITE]])
    assert la.classify_colors(alone, rules, paper, 0.0, adaptive=True).trace[0] is None
    joined = _rgb([[faint, (255, 120, 120), WHITE, WHITE, WHITE]])  # next to coverage 0.5
    c = la.classify_colors(joined, rules, paper, 0.0, adaptive=True)
    assert _points(c.trace[0]) == [(0, 0), (1, 0)]
    # fixed mode wants coverage >= 0.5 of every pixel
    assert _points(la.classify_colors(joined, rules, None, 0.0, False).trace[0]) == [(1, 0)]


# -- LineRules ----------------------------------------------------------------------------
def test_line_rules_defaults_and_colors():
    r = la.LineRules.make()
    assert r == la.LineRules.make(LineOptions()) == la.LineRules()
    assert (r.mode, r.threshold, r.line_colors) == ("auto", 128, ())
    assert r.trace_colors == ((255, 0, 0), (0, 0, 255), (0, 255, 0))  # BasicPBC's order
    r = la.LineRules.make(LineOptions("fixed", ("navy", "#102030"), ("1,2,3",)), threshold=90)
    assert r == la.LineRules("fixed", 90, ((0, 0, 128), (16, 32, 48)), ((1, 2, 3),))
    assert la.LineRules.make(LineOptions(trace_colors=())).trace_colors == ()


@pytest.mark.parametrize("line, threshold, match", [
    (LineOptions(mode="smart"), 128, "line mode 'smart': use one of auto, fixed, adaptive, learned"),
    (LineOptions(), 256, "threshold must be in 0..255, got 256"),
    (LineOptions(), -1, "threshold must be in 0..255"),
    (LineOptions(trace_colors=("reddish",)), 128, "color 'reddish': use a name"),
    (LineOptions(line_colors=("255,255,255",)), 128, "is white: it cannot be told from paper"),
])
def test_line_rules_refuse_bad_options_with_a_value_error(line, threshold, match):
    with pytest.raises(ValueError, match=match):
        la.LineRules.make(line, threshold)


# -- specks -------------------------------------------------------------------------------
def _areas(labels: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(labels.ravel(), minlength=n + 1).astype(np.int64)


def test_find_specks_small_and_thin_regions():
    labels = np.ones((12, 30), np.int32)
    labels[0, :] = 0
    labels[1:4, 1:4] = 2     # 9 px: small enough to be a speck whatever its shape
    labels[5:9, 1:4] = 3     # 12 px, 3 wide: neither tiny nor thin
    labels[10, 1:21] = 4     # 20 px, 1 px wide: thin
    labels[1:5, 10:12] = 5   # 8 px
    labels[11, 0] = 6        # 1 px
    speck, xs, ys = la.find_specks(labels, _areas(labels, 6))
    assert speck.tolist() == [False, False, True, False, True, True, True]
    assert xs.size == 9 + 20 + 8 + 1
    order = ys * 30 + xs
    assert (np.diff(order) > 0).all()  # raster order


def test_find_specks_thin_ones_need_ink_when_darkness_is_given():
    labels = np.ones((3, 30), np.int32)
    labels[1, 1:21] = 2  # thin, 20 px
    labels[0, :] = 0
    dark = np.zeros(labels.shape, np.uint8)
    assert not la.find_specks(labels, _areas(labels, 2), dark, 10.0)[0][2]  # paper-light
    dark[1, 1:21] = 30
    dark[0, :] = 30  # as dark as its neighbour line: no valley, a speck
    assert la.find_specks(labels, _areas(labels, 2), dark, 10.0)[0][2]


def test_merge_specks_joins_the_nearest_region_or_becomes_line():
    labels = np.zeros((5, 12), np.int32)
    labels[:, 0:3] = 1
    labels[2, 4] = 2          # speck 1 px from region 1, 3 from region 3
    labels[:, 7:12] = 3
    speck = np.array([False, False, True, False])
    ys, xs = np.nonzero(labels == 2)
    lut, m = la.merge_specks(labels, speck, xs, ys)
    assert m == 2 and lut.tolist() == [0, 1, 1, 2]
    far = np.zeros((9, 9), np.int32)
    far[0, 0], far[8, 8] = 1, 2  # region 2 is a speck with nothing within 3 px
    lut, m = la.merge_specks(far, np.array([False, False, True]), np.array([8]), np.array([8]))
    assert m == 1 and lut.tolist() == [0, 1, 0]


def test_merge_specks_ties_go_to_the_lower_label():
    labels = np.zeros((3, 6), np.int32)
    labels[:, 0], labels[1, 2:4], labels[:, 5] = 1, 2, 3
    # the speck's left pixel is nearest region 1, its right one region 3: one vote each
    lut, m = la.merge_specks(labels, np.array([False, False, True, False]),
                             np.array([2, 3]), np.array([1, 1]))
    assert m == 2 and lut.tolist() == [0, 1, 1, 2]


def test_merge_specks_goes_where_most_of_its_pixels_found_a_region():
    labels = np.zeros((3, 6), np.int32)
    labels[:, 0], labels[1, 2:5], labels[:, 5] = 1, 2, 3
    # pixel x=2 is nearest region 1, x=3 and x=4 region 3
    lut, m = la.merge_specks(labels, np.array([False, False, True, False]),
                             np.array([2, 3, 4]), np.array([1, 1, 1]))
    assert m == 2 and lut.tolist() == [0, 1, 2, 2]


def test_composite_on_white_ignores_rgb_under_transparency():
    px = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [0, 0, 0, 128], [200, 100, 50, 255]]],
                  np.uint8)
    out = la.composite_rgb(px)
    assert out.shape == (1, 4, 3)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 0, 0]
    assert out[0, 2].tolist() == [127, 127, 127]
    assert out[0, 3].tolist() == [200, 100, 50]


def test_opaque_art_is_returned_as_is():
    px = np.full((2, 3, 4), 255, np.uint8)
    px[..., :3] = (10, 20, 30)
    assert (la.composite_rgb(px) == px[..., :3]).all()
