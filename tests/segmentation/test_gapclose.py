"""Gap closing (dacon_engine.segmentation.gapclose.split_regions) on small hand-made line art.

free masks: nonzero = paper, 0 = line. What a user relies on: a gap narrower than the ball
(2 * radius + 1 px) splits the regions it joins, a wider one does not; line pixels never
change; regions are only split, never merged; thin parts stay with their region.
"""

from __future__ import annotations

import numpy as np
import pytest

from dacon_engine.segmentation.gapclose import _disk, split_regions


def rooms(h: int, w: int, boxes) -> np.ndarray:
    """uint8 free mask (1 = paper) with the given (y0, x0, y1, x1) boxes cut out of line."""
    free = np.zeros((h, w), np.uint8)
    for y0, x0, y1, x1 in boxes:
        free[y0:y1, x0:x1] = 1
    return free


def check_split(free: np.ndarray, labels: np.ndarray, n: int) -> None:
    """Line pixels unchanged, labels 1..n all used, int32."""
    assert labels.dtype == np.int32 and labels.shape == free.shape
    assert ((labels == 0) == (free == 0)).all()
    assert labels.max() == n and np.unique(labels[labels > 0]).size == n


@pytest.mark.parametrize("radius", [1, 2, 3, 4])
@pytest.mark.parametrize("vertical", [True, False])
def test_gap_narrower_than_the_ball_splits(radius, vertical):
    for gap in range(1, 2 * radius + 3):
        free = np.ones((30, 40), np.uint8)     # 1, not 255: any nonzero value is paper
        free[:, 20] = 0
        free[10:10 + gap, 20] = 1
        if not vertical:
            free = np.ascontiguousarray(free.T)
        labels, n = split_regions(free, radius)
        check_split(free, labels, n)
        assert n == (2 if gap <= 2 * radius else 1), (radius, gap)
        if n == 2:  # each side keeps its own label, the gap goes to one of them
            assert labels[0, 0] == 1 and labels[-1, -1] == 2
        bool_labels, bool_n = split_regions(free.astype(bool), radius)
        assert bool_n == n and (bool_labels == labels).all()


def test_radius_zero_is_plain_four_connected_regions():
    free = rooms(6, 6, [(0, 0, 2, 2), (2, 2, 4, 4), (4, 0, 6, 1)])  # diagonal touch only
    labels, n = split_regions(free, 0)
    check_split(free, labels, n)
    assert n == 3 and labels[0, 0] == 1 and labels[2, 2] == 2 and labels[5, 0] == 3
    gapped = rooms(5, 9, [(0, 0, 5, 4), (2, 4, 3, 5), (0, 5, 5, 9)])
    assert split_regions(gapped, 0)[1] == 1
    assert split_regions(gapped, 1)[1] == 2  # radius 1 already closes a 1-px gap


def test_the_ball_is_round_and_symmetric():
    for r in range(1, 7):
        d = _disk(r)
        assert d.shape == (2 * r + 1, 2 * r + 1) and d.dtype == np.uint8
        assert (d == d[::-1]).all() and (d == d[:, ::-1]).all() and (d == d.T).all()
        assert d[r].all() and d[:, r].all()           # spans 2r + 1 px across
        assert d[0, 0] == 0                           # but is not a square
    assert _disk(1).sum() == 5                        # a cross
    d4 = _disk(4)                                     # r^2 + r//2 = 18: (3, 3) inside
    assert d4[4 + 3, 4 + 3] == 1 and d4[4 + 4, 4 + 1] == 1 and d4[4 + 4, 4 + 2] == 0
    d2 = _disk(2)                                     # 4 + 1 = 5: (1, 2) inside, (2, 2) not
    assert d2[2 + 1, 2 + 2] == 1 and d2[2 + 2, 2 + 2] == 0


def test_rooms_smaller_than_the_ball_area_are_not_split():
    # cores smaller than radius^2 px are noise: two 5x5 rooms (1-px cores for r = 2) stay one
    small = rooms(7, 13, [(1, 1, 6, 6), (3, 6, 4, 7), (1, 7, 6, 12)])
    labels, n = split_regions(small, 2)
    check_split(small, labels, n)
    assert n == 1
    # 6x6 rooms: 2x2 = radius^2 px cores are kept, the rooms split
    six = rooms(8, 15, [(1, 1, 7, 7), (3, 7, 4, 8), (1, 8, 7, 14)])
    labels, n = split_regions(six, 2)
    check_split(six, labels, n)
    assert n == 2 and labels[1, 1] != labels[1, 13]


@pytest.mark.parametrize("radius", [2, 3])
def test_later_passes_use_smaller_balls(radius):
    # two 3x3 rooms joined by a 1-px corridor (only an r = 1 ball fits) and a big room
    free = rooms(20, 30, [(1, 1, 4, 4), (2, 4, 3, 6), (1, 6, 4, 9), (6, 1, 19, 14)])
    one, n1 = split_regions(free, radius)             # default: one pass
    check_split(free, one, n1)
    assert n1 == 2 and one[1, 1] == one[1, 8] != one[10, 10]
    assert (split_regions(free, radius, passes=1)[0] == one).all()
    two, n2 = split_regions(free, radius, passes=2)   # radius, then radius // 2 = 1
    check_split(free, two, n2)
    assert n2 == 3 and len({two[1, 1], two[1, 8], two[10, 10]}) == 3
    three, n3 = split_regions(free, radius, passes=3)  # no radius 0 pass: same as two
    assert n3 == 3 and (three == two).all()
    # a first pass that finds no ball at all does not stop the later ones
    only_small = free.copy()
    only_small[6:19, 1:14] = 0
    labels, n = split_regions(only_small, radius, passes=2)
    check_split(only_small, labels, n)
    assert n == 2


def test_later_passes_after_one_ball_or_only_tiny_cores():
    # one r = 4 core (a 15x15 room) and a 5-px-wide appendage only an r = 2 ball enters
    free = rooms(20, 30, [(1, 1, 16, 16), (6, 16, 11, 26)])
    assert split_regions(free, 4)[1] == 1
    labels, n = split_regions(free, 4, passes=2)
    check_split(free, labels, n)
    assert n == 2 and labels[8, 8] != labels[8, 24]
    # the r = 4 ball's cores in a 10x10 room are too small (2x2 < 16 px); the r = 2 pass
    # still runs and splits the two 6x6 rooms joined by a 1-px gap
    free = rooms(14, 30, [(1, 1, 11, 11), (1, 13, 7, 19), (3, 19, 4, 20), (1, 20, 7, 26)])
    assert split_regions(free, 4)[1] == 2
    labels, n = split_regions(free, 4, passes=2)
    check_split(free, labels, n)
    assert n == 3 and len({labels[5, 5], labels[2, 14], labels[2, 24]}) == 3


def test_second_pass_after_an_odd_radius_uses_the_rounded_down_half():
    # radius 5, then 5 // 2 = 2: the r = 2 ball (5 px across) enters a 5-px-wide appendage
    # of a 15x15 room and splits it off; a 4-px-wide one stays with the room
    for width, parts in ((4, 1), (5, 2)):
        free = rooms(20, 32, [(1, 1, 16, 16), (6, 16, 6 + width, 30)])
        assert split_regions(free, 5)[1] == 1
        labels, n = split_regions(free, 5, passes=2)
        check_split(free, labels, n)
        assert n == parts and (labels[8, 8] != labels[7, 28]) == (parts == 2)


def test_neck_between_rooms_joins_the_room_it_shares_most_border_with():
    # a 3x2 notch in the left room's wall, then a 1-px corridor to the right room: the
    # neck the balls miss (3 + 2 px) is under min_fragment (2 r^2 = 8) and joins the left
    # room, with which it shares 3 px of border (1 px with the right room)
    free = rooms(13, 24, [(1, 1, 10, 10), (1, 14, 10, 23), (4, 10, 7, 12), (5, 12, 6, 14)])
    labels, n = split_regions(free, 2)
    check_split(free, labels, n)
    assert n == 2
    assert (labels[4:7, 10:12] == labels[1, 1]).all() and (labels[5, 12:14] == labels[1, 1]).all()
    # min_fragment: a neck of at least that many px stays its own segment
    labels, n = split_regions(free, 2, min_fragment=5)
    check_split(free, labels, n)
    assert n == 3 and labels[5, 12] not in (labels[1, 1], labels[1, 22])
    assert split_regions(free, 2, min_fragment=6)[1] == 2


def test_default_min_fragment_is_twice_radius_squared():
    # an 8-px neck (3 px of notch + 5-px corridor): exactly 2 r^2 for r = 2: its own segment
    free = rooms(13, 27, [(1, 1, 10, 10), (1, 17, 10, 26), (4, 10, 7, 12), (5, 12, 6, 17)])
    labels, n = split_regions(free, 2)
    check_split(free, labels, n)
    assert n == 3
    assert (labels == split_regions(free, 2, min_fragment=8)[0]).all()
    assert split_regions(free, 2, min_fragment=9)[1] == 2


def test_thin_appendages_in_every_direction_stay_with_their_room():
    # 1-px spurs off a 9x9 room (up, down, left, right) and a separate 1-px strip
    free = rooms(19, 24, [(5, 5, 14, 14), (1, 9, 5, 10), (14, 9, 18, 10), (9, 1, 10, 5),
                          (9, 14, 10, 18), (1, 21, 18, 22)])
    labels, n = split_regions(free, 2)
    check_split(free, labels, n)
    assert n == 2                                     # the room with its spurs + the strip
    room = labels[9, 9]
    assert labels[1, 9] == labels[17, 9] == labels[9, 1] == labels[9, 17] == room
    assert labels[1, 21] != room


def test_paper_everywhere_is_one_region():
    free = np.ones((12, 12), np.uint8)                # the ball reaches every pixel
    labels, n = split_regions(free, 2)
    check_split(free, labels, n)
    assert n == 1


_SYMMETRIES = [lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-1], lambda a: a.T,
               lambda a: a[::-1, ::-1], lambda a: a.T[::-1], lambda a: a.T[:, ::-1],
               lambda a: a.T[::-1, ::-1]]


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def test_flipped_or_turned_drawing_gets_the_same_segments():
    # thin leftovers along every edge of the frame: pixels on the border must count their
    # neighbours like any other pixel, whichever edge the drawing is turned to
    art = ["111111", "111111", "111111", "111100", "111111", "111111",
           "111000", "111111", "111111", "000001", "011100", "011111"]
    free = np.array([[int(ch) for ch in row] for row in art], np.uint8)
    base, n = split_regions(free, 1)
    check_split(free, base, n)
    for turn in _SYMMETRIES:
        labels, m = split_regions(np.ascontiguousarray(turn(free)), 1)
        assert m == n and _same_partition(turn(base), labels)
