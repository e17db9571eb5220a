"""The matcher's contracts (dacon_engine.matching.bank): the bank, the similarity scale, and what
an assignment reports for each target segment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.matching.bank import Bank, assign, color_ids, cosine_similarity01

RED, BLUE, GREEN = (255, 0, 0, 255), (0, 0, 255, 255), (0, 255, 0, 255)


def _ref(colors: list[tuple[int, int, int, int]]) -> Reference:
    n = len(colors)
    frame = SegmentedFrame(np.zeros((1, n, 4), np.uint8),
                           np.arange(1, n + 1, dtype=np.int32)[None], n)
    return Reference(frame, np.asarray(colors, np.int64).reshape(-1, 4))


def test_cosine_similarity_is_mapped_to_zero_one():
    v = torch.tensor([[3.0, 4.0]])
    bank = torch.tensor([[6.0, 8.0], [-3.0, -4.0], [-4.0, 3.0], [1e-4, 1.33e-4]])
    s = cosine_similarity01(v, bank)
    assert s.shape == (1, 4) and s.dtype == torch.float32
    # same direction (any length, even tiny) 1; opposite 0; orthogonal 0.5
    np.testing.assert_allclose(s[0].numpy(), [1.0, 0.0, 0.5, 1.0], atol=1e-3)
    # several rows at once, each normalized on its own (tiny rows too)
    rows = cosine_similarity01(torch.tensor([[3.0, 4.0], [3e-5, 4e-5], [0.0, 2.0]]), v)
    np.testing.assert_allclose(rows[:, 0].numpy(), [1.0, 1.0, 0.9], atol=1e-3)
    half = cosine_similarity01(torch.tensor([[1.0, 0.0]], dtype=torch.float16),
                               torch.tensor([[1.0, 1.0]]))
    assert half.dtype == torch.float32
    assert float(half) == pytest.approx((np.sqrt(0.5) + 1) / 2, abs=1e-6)


def test_a_bank_stacks_every_reference_and_remembers_where_rows_came_from():
    refs = [_ref([RED, BLUE]), _ref([GREEN]), _ref([BLUE, RED, GREEN])]
    feats = [torch.full((r.frame.n_segments, 3), float(k), dtype=torch.float64)
             for k, r in enumerate(refs)]
    bank = Bank.build(refs, feats)
    assert len(bank) == 6
    assert bank.features.dtype == torch.float32
    assert bank.colors.dtype == np.uint8
    assert bank.colors.tolist() == [list(c) for c in (RED, BLUE, GREEN, BLUE, RED, GREEN)]
    assert bank.ref_index.tolist() == [0, 0, 1, 2, 2, 2]
    assert bank.ref_segment.tolist() == [1, 2, 1, 1, 2, 3]
    assert bank.features[:, 0].tolist() == [0, 0, 1, 2, 2, 2]
    # reference numbers given by the caller (e.g. a subset of the references)
    assert Bank.build(refs[1:], feats[1:], ref_ids=[7, 9]).ref_index.tolist() == [7, 9, 9, 9]
    with pytest.raises(ValueError, match="^a bank needs at least one reference$"):
        Bank.build([], [])


def test_extending_a_bank_appends_rows_in_order():
    a = Bank.build([_ref([RED])], [torch.zeros(1, 2)])
    b = Bank.build([_ref([BLUE, GREEN])], [torch.ones(2, 2, dtype=torch.float64)], ref_ids=[5])
    ab = a.extend(b)
    assert len(ab) == 3 and len(a) == 1  # the original bank is unchanged
    assert ab.features.dtype == torch.float32
    assert ab.features[:, 0].tolist() == [0, 1, 1]
    assert ab.colors.tolist() == [list(RED), list(BLUE), list(GREEN)]
    assert ab.ref_index.tolist() == [0, 5, 5]
    assert ab.ref_segment.tolist() == [1, 1, 2]
    # a colored frame's features (half precision on a GPU) join in the bank's precision
    frame = Bank(torch.ones(1, 2, dtype=torch.float16), np.array([RED], np.uint8),
                 np.array([9]), np.array([1]))
    assert a.extend(frame).features.dtype == torch.float32


def test_color_ids_tell_every_channel_apart():
    base = [1, 2, 3, 4]
    variants = [base, [2, 2, 3, 4], [1, 3, 3, 4], [1, 2, 4, 4], [1, 2, 3, 5]]  # one channel
    ids = color_ids(np.array([base] + variants, np.uint8))
    assert ids.dtype == np.int64
    assert ids[0] == ids[1]  # equal colors, equal ids
    assert len(set(ids[1:].tolist())) == len(variants)
    # a channel's high bit must not land on its neighbour's low bit
    for a, b in [([1, 0, 0, 0], [0, 128, 0, 0]), ([0, 1, 0, 0], [0, 0, 128, 0]),
                 ([0, 0, 1, 0], [0, 0, 0, 128]), ([255, 255, 255, 255], [255, 255, 255, 254]),
                 ([9, 9, 9, 0], [9, 9, 9, 255])]:  # differing only in alpha: not the same
        x, y = color_ids(np.array([a, b], np.uint8))
        assert x != y, (a, b)


def test_assign_picks_the_most_similar_row_with_its_source():
    bank = Bank.build([_ref([RED, BLUE]), _ref([GREEN, RED])], [torch.zeros(2, 1)] * 2)
    sim = torch.tensor([[0.1, 0.2, 0.3, 0.95],
                        [0.1, 0.8, 0.3, 0.2],
                        [0.9, 0.1, 0.85, 0.2]], dtype=torch.float64)
    a = assign(sim, bank)
    assert a.colors.dtype == np.uint8
    assert a.colors.tolist() == [list(RED), list(BLUE), list(RED)]
    assert a.ref_index.tolist() == [1, 0, 0]
    assert a.ref_segment.tolist() == [2, 2, 1]
    assert a.similarity.dtype == np.float32 and a.confidence.dtype == np.float32
    np.testing.assert_allclose(a.similarity, [0.95, 0.8, 0.9], atol=1e-6)
    # row 0: best other color 0.3 -> full margin; row 2: green at 0.85 is close
    np.testing.assert_allclose(a.confidence, [0.95, 0.8, 0.9 * np.sqrt(0.5)], atol=1e-5)


def test_confidence_stays_in_zero_one_for_out_of_range_similarities():
    bank = Bank.build([_ref([RED, BLUE])], [torch.zeros(2, 1)])
    a = assign(torch.tensor([[1.4, 0.2], [-0.5, -0.9], [0.04, 0.0]]), bank)
    np.testing.assert_allclose(a.confidence, [1.0, 0.0, np.sqrt(0.4) * 0.04], atol=1e-6)
    assert a.similarity.tolist() == pytest.approx([1.4, -0.5, 0.04])


def test_an_all_line_target_against_an_all_line_reference():
    empty = Bank.build([_ref([])], [torch.zeros(0, 2)])
    assert len(empty) == 0
    a = assign(torch.zeros(0, 0), empty)
    assert a.colors.shape == (0, 4) and a.confidence.shape == (0,)


def test_assign_with_no_target_segments():
    bank = Bank.build([_ref([RED])], [torch.zeros(1, 2)])
    a = assign(torch.zeros(0, 1), bank)
    assert a.colors.shape == (0, 4) and a.colors.dtype == np.uint8
    assert a.confidence.shape == (0,) and a.confidence.dtype == np.float32
    assert a.similarity.shape == (0,) and a.similarity.dtype == np.float32
    assert a.ref_index.dtype == np.int64 and a.ref_segment.dtype == np.int64
    assert a.ref_index.shape == (0,) and a.ref_segment.shape == (0,)


def test_assign_scores_pick_the_match_and_similarity_stays_raw():
    import numpy as np
    import torch

    from dacon_engine.matching.bank import Bank, assign

    bank = Bank(torch.eye(3), np.array([[1, 0, 0, 255], [2, 0, 0, 255], [1, 0, 0, 255]],
                                       np.uint8), np.zeros(3, np.int64),
                np.arange(1, 4, dtype=np.int64))
    sim = torch.tensor([[0.9, 0.5, 0.2], [0.3, 0.8, 0.7]])
    plain = assign(sim, bank)
    picked = assign(sim, bank, torch.tensor([[0.1, 0.2, 0.3], [0.0, 0.9, 0.1]]))
    assert picked.ref_segment.tolist() == [3, 2]
    np.testing.assert_allclose(picked.similarity, [0.2, 0.8])
    assert picked.colors.tolist() == [[1, 0, 0, 255], [2, 0, 0, 255]]
    # row 0: seg 3 (0.2) loses to the other color's seg 2 (0.5) -> confidence 0;
    # row 1 picks what the similarity picks: as without scores
    assert picked.confidence[0] == 0.0
    assert picked.confidence[1] == plain.confidence[1] > 0
    assert picked.ref_segment[1] == plain.ref_segment[1]
    lost = assign(sim, bank, torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    assert lost.confidence[0] == 0.0  # seg 2 (other color) loses to seg 1 on similarity
    assert lost.similarity[0] == np.float32(0.5)
    import pytest

    with pytest.raises(ValueError, match="differ"):
        assign(sim, bank, torch.zeros(2, 2))
