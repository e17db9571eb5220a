"""Segment-graph refinement on tiny hand-made label maps, and its hook in the Colorizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer
from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.matching.graphrefine import (
    FrameGraph,
    bank_graph,
    frame_graph,
    join_graphs,
    refine_similarity,
)

# five vertical strips 1|2|3|4|5, one line pixel between neighbours
STRIPS = np.array([[1, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 0, 5, 5]] * 4, np.int32)
COLORS = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255],
                   [255, 255, 0, 255], [0, 255, 255, 255]], np.uint8)


def dense(g: FrameGraph) -> np.ndarray:
    return g.adjacency.toarray()


def test_frame_graph_neighbours_across_lines_with_boundary_length():
    a = dense(frame_graph(STRIPS, 5))
    expected = np.zeros((5, 5))
    for i in range(4):
        expected[i, i + 1] = expected[i + 1, i] = 4  # 4 rows of shared boundary
    np.testing.assert_array_equal(a, expected)


def test_frame_graph_corners_blocks_and_empty_cases():
    lab = np.array([[1, 1, 0, 2],
                    [1, 1, 0, 2],
                    [0, 0, 0, 0],
                    [3, 3, 3, 3]], np.int32)
    a = dense(frame_graph(lab, 3))
    assert a[0, 1] > 0 and a[0, 2] > 0 and a[1, 2] > 0
    np.testing.assert_array_equal(a, a.T)
    assert np.all(np.diag(a) == 0)
    # no line pixels: segments touch directly
    assert dense(frame_graph(np.array([[1, 1, 2, 2]], np.int32), 2))[0, 1] == 1
    assert frame_graph(np.zeros((3, 3), np.int32), 2).adjacency.nnz == 0
    assert frame_graph(np.zeros((0, 0), np.int32), 4).n_segments == 4
    assert frame_graph(np.ones((2, 2), np.int32), 1).adjacency.nnz == 0


def test_bank_graph_is_block_diagonal_over_sources():
    g = frame_graph(STRIPS, 5)
    ref_index = np.array([0] * 5 + [3] * 5 + [7] * 2)
    ref_segment = np.array([1, 2, 3, 4, 5] * 2 + [1, 2])
    b = dense(bank_graph({0: g, 3: g}, ref_index, ref_segment))  # source 7: no graph
    np.testing.assert_array_equal(b[:5, :5], dense(g))
    np.testing.assert_array_equal(b[5:10, 5:10], dense(g))
    assert b[:5, 5:].sum() == 0 and b[10:].sum() == 0 and b[:, 10:].sum() == 0
    # rows in another order, and labels the bank does not hold
    perm = bank_graph({0: g}, np.zeros(3, np.int64), np.array([3, 1, 2]))
    np.testing.assert_array_equal(dense(perm), [[0, 0, 4], [0, 0, 4], [4, 4, 0]])
    assert bank_graph({}, np.zeros(2, np.int64), np.array([1, 2])).adjacency.nnz == 0
    j = dense(join_graphs(g, None, 3))
    assert j.shape == (8, 8) and j[5:].sum() == 0
    np.testing.assert_array_equal(dense(join_graphs(g, g, 5))[5:, 5:], dense(g))


def strip_similarity(wrong_row: int, wrong_col: int, right: float, wrong: float) -> torch.Tensor:
    s = np.full((5, 5), 0.3, np.float32)
    np.fill_diagonal(s, 0.9)
    s[wrong_row, wrong_row] = right
    s[wrong_row, wrong_col] = wrong
    return torch.from_numpy(s)


def test_isolated_wrong_color_is_fixed_by_its_neighbours():
    g = frame_graph(STRIPS, 5)
    sim = strip_similarity(1, 4, right=0.86, wrong=0.88)  # strip 2 prefers strip 5
    assert int(sim[1].argmax()) == 4
    out = refine_similarity(sim, g, g)
    assert out.argmax(1).tolist() == [0, 1, 2, 3, 4]
    assert out.shape == sim.shape
    assert torch.equal(sim, strip_similarity(1, 4, 0.86, 0.88))  # input unchanged


def test_correct_isolated_color_is_kept():
    g = frame_graph(STRIPS, 5)
    # strip 3 matches strip 3 clearly, though its neighbours' matches sit next to strip 5
    sim = strip_similarity(2, 4, right=0.9, wrong=0.7)
    sim[1] = torch.tensor([0.3, 0.3, 0.3, 0.9, 0.3])   # 2 -> 4 (next to 5)
    sim[3] = torch.tensor([0.3, 0.3, 0.3, 0.9, 0.3])   # 4 -> 4
    assert refine_similarity(sim, g, g).argmax(1)[2] == 2


def test_no_neighbours_or_no_weight_keeps_the_order():
    g = frame_graph(STRIPS, 5)
    lonely = FrameGraph(frame_graph(np.zeros((1, 1), np.int32), 5).adjacency)
    sim = strip_similarity(1, 4, 0.86, 0.88)
    assert refine_similarity(sim, lonely, g).argmax(1).tolist() == sim.argmax(1).tolist()
    assert refine_similarity(sim, g, g, weight=0.0) is sim
    assert refine_similarity(sim, g, g, rounds=0) is sim
    with pytest.raises(ValueError, match="5x5"):
        refine_similarity(sim, frame_graph(STRIPS, 6), g)
    empty = torch.zeros((0, 5))
    assert refine_similarity(empty, frame_graph(np.zeros((0, 0), np.int32), 0), g) is empty


class TableFeaturizer:
    """Features looked up by frame path: reference rows are one-hot, so the similarity of a
    target is its own feature row (dot product)."""

    name = "table"

    def __init__(self, table: dict[str, torch.Tensor]):
        self.table = table

    def segment_features(self, frames):
        return [self.table[str(f.path)] for f in frames]

    def similarity(self, target, bank):
        return target.float() @ bank.float().T


def strip_frame(name: str) -> SegmentedFrame:
    line = np.full(STRIPS.shape + (4,), 255, np.uint8)
    line[STRIPS == 0] = (0, 0, 0, 255)
    return SegmentedFrame(line, STRIPS.copy(), 5, path=name)


def table_colorizer(graph_refine: bool, extra: dict | None = None) -> Colorizer:
    feats = {"ref": torch.eye(5), "t": strip_similarity(1, 4, 0.86, 0.88), **(extra or {})}
    c = Colorizer(TableFeaturizer(feats), graph_refine=graph_refine)
    c.add_reference(Reference(strip_frame("ref"), COLORS.copy(), "ref"))
    return c


def test_colorizer_refines_by_default_and_can_be_switched_off():
    on = next(table_colorizer(True).colorize([strip_frame("t")]))
    off = next(table_colorizer(False).colorize([strip_frame("t")]))
    np.testing.assert_array_equal(on.assignment.colors, COLORS)
    assert off.assignment.colors[1].tolist() == COLORS[4].tolist()
    assert Colorizer("baseline").graph_refine is True
    assert set(table_colorizer(True).bank_graphs()) == {0}
    assert table_colorizer(False).bank_graphs() == {}
    with pytest.raises(Exception, match="graph_refine"):
        Colorizer("baseline", graph_refine="yes")


def test_preset_bank_uses_the_graphs_given():
    donor = table_colorizer(True)
    c = Colorizer(donor.featurizer, graph_refine=True)
    c.use_bank(donor.bank(), ["ref"], donor.bank_graphs())
    np.testing.assert_array_equal(next(c.colorize([strip_frame("t")])).assignment.colors,
                                  COLORS)
    c.use_bank(donor.bank(), ["ref"])  # no graphs: nothing to refine against
    assert next(c.colorize([strip_frame("t")])).assignment.colors[1].tolist() == \
        COLORS[4].tolist()


def test_chained_frames_join_the_bank_with_their_graph():
    # frame t2 matches only the previous frame's segments well; its strip 2 prefers the
    # previous frame's strip 5 unless the graph of that chained frame is used
    prev = torch.cat([torch.eye(5) * 0.9, torch.eye(5)], 1)  # t1 features (its bank rows)
    t2 = torch.cat([torch.zeros(5, 5), strip_similarity(1, 4, 0.86, 0.88)], 1)
    feats = {"ref": torch.cat([torch.eye(5), torch.zeros(5, 5)], 1),
             "t1": prev, "t2": t2}
    for refine, want in ((True, COLORS), (False, None)):
        c = Colorizer(TableFeaturizer(feats), graph_refine=refine)
        c.add_reference(Reference(strip_frame("ref"), COLORS.copy(), "ref"))
        r1, r2 = c.colorize([strip_frame("t1"), strip_frame("t2")], mode="consecutive")
        np.testing.assert_array_equal(r1.assignment.colors, COLORS)
        assert set(r2.assignment.ref_index.tolist()) == {1}
        if want is not None:
            np.testing.assert_array_equal(r2.assignment.colors, want)
        else:
            assert r2.assignment.colors[1].tolist() == COLORS[4].tolist()


def test_chain_seed_frames_bring_their_graph():
    prev = torch.cat([torch.eye(5) * 0.9, torch.eye(5)], 1)  # t1 features (its bank rows)
    t2 = torch.cat([torch.zeros(5, 5), strip_similarity(1, 4, 0.86, 0.88)], 1)
    feats = {"ref": torch.cat([torch.eye(5), torch.zeros(5, 5)], 1), "t1": prev, "t2": t2}
    c = Colorizer(TableFeaturizer(feats))
    c.add_reference(Reference(strip_frame("ref"), COLORS.copy(), "ref"))
    seed = Reference(strip_frame("t1"), COLORS.copy(), "t1")
    (r2,) = c.colorize([strip_frame("t1"), strip_frame("t2")], mode="consecutive", only=[1],
                       chain_seed=lambda i: seed)
    np.testing.assert_array_equal(r2.assignment.colors, COLORS)


def test_identical_segments_keep_their_match():
    g = frame_graph(STRIPS, 5)
    sim = strip_similarity(1, 4, right=0.98, wrong=1.0)  # strip 2 is an exact copy of 5
    assert refine_similarity(sim, g, g).argmax(1)[1] == 4
    sim[1, 4] = 0.9999  # not identical: the neighbours decide
    assert refine_similarity(sim, g, g).argmax(1)[1] == 1


def test_independent_of_the_similarity_scale():
    g = frame_graph(STRIPS, 5)
    sim = strip_similarity(1, 4, right=0.86, wrong=0.88)
    want = refine_similarity(sim, g, g).argmax(1)
    for a, b in ((0.1, 0.5), (3.0, -2.0)):
        assert torch.equal(refine_similarity(sim * a + b, g, g).argmax(1), want)
    flat = torch.full((5, 5), 0.5)
    assert refine_similarity(flat, g, g) is flat  # no spread: nothing to rescore


def test_a_hub_does_not_win_on_flat_similarities():
    # reference: segment 1 is a ring around 2..4 (it touches all of them)
    ref = np.array([[1, 1, 1, 1, 1, 1, 1],
                    [1, 0, 0, 0, 0, 0, 1],
                    [1, 0, 2, 0, 3, 0, 1],
                    [1, 0, 0, 0, 0, 0, 1],
                    [1, 0, 4, 4, 4, 0, 1],
                    [1, 0, 0, 0, 0, 0, 1],
                    [1, 1, 1, 1, 1, 1, 1]], np.int32)
    gr = frame_graph(ref, 4)
    assert dense(gr)[0, 1:].min() > 0
    sim = torch.full((4, 4), 0.5) + torch.eye(4) * 0.001  # barely better on the diagonal
    assert refine_similarity(sim, gr, gr).argmax(1).tolist() == [0, 1, 2, 3]
