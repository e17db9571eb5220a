"""Segment-graph refinement of matches (DACoN matches each segment on its own).

Segments that touch in a target frame should match segments that touch in the
reference. Relaxation labelling rescores a target frame's (N, M) similarity matrix S
against the bank before the best match is taken; per round (``ROUNDS``):

    P       = softmax(S' / (TEMPERATURE * spread)) over bank rows   (S' = S at first)
    mass    = for target segment k and bank row j: k's probability mass on the bank
              rows that touch j (same reference frame only; j itself not included),
              less its mean over all target segments (a bank segment touching many
              others gathers mass from anything: without this, such hubs win wherever
              the similarities are flat)
    support = for target segment i: the mean of ``mass`` over i's target neighbours,
              weighted by the square root of their shared boundary's length
    S'      = S + WEIGHT * spread * support

spread = the standard deviation of S over the frame: the rule does not depend on a
model's similarity scale (the default model's is about 0.155: WEIGHT 0.1 and TEMPERATURE
0.02 in similarity units there). The refined scores pick each segment's match (``matching.assign(..., scores=)``); its
similarity and confidence stay those of the model. Measured on real-art warps and the
synthetic suites (``scripts/bench_quality.py``): neighbours weighted by boundary length
and an open neighbourhood did better than a plain mean and a closed one; a rule sending
border regions to transparent candidates, and a larger weight, did not help.

Adjacency comes from the label maps: line pixels (label 0) take the label of the nearest
segment pixel (a distance transform), and two segments touch where these filled labels
differ between 4-neighbouring pixels; an edge's weight is that boundary's length in
pixels. Everything is vectorized (scipy.sparse, numpy): no loop over segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp
import torch

# in units of the frame's similarity spread (the standard deviation of S), so the result
# does not depend on a model's similarity scale; SPREAD is the default model's typical one
SPREAD = 0.155
WEIGHT = 0.1 / SPREAD        # the support's weight against the similarity
TEMPERATURE = 0.02 / SPREAD  # softmax temperature
ROUNDS = 3
EXACT = 1.0 - 1e-6  # a similarity this high is an identical segment (e.g. a held frame)


@dataclass
class FrameGraph:
    """Segment adjacency of one frame (or bank): ``adjacency`` (n, n) CSR float32,
    symmetric, zero diagonal; weight = shared boundary length in px."""

    adjacency: sp.csr_matrix

    @property
    def n_segments(self) -> int:
        return int(self.adjacency.shape[0])


def frame_graph(labels: np.ndarray, n_segments: int) -> FrameGraph:
    """The FrameGraph of an HxW label map (0 = line, 1..n = segments)."""
    lab = np.ascontiguousarray(labels, dtype=np.int32)
    n = int(n_segments)
    empty = sp.csr_matrix((n, n), dtype=np.float32)
    if lab.size == 0 or n == 0:
        return FrameGraph(empty)
    inside = lab > 0
    if not inside.any():
        return FrameGraph(empty)
    filled = lab
    if not inside.all():
        # every line pixel takes the label of the nearest segment pixel; with
        # DIST_LABEL_PIXEL the zero (segment) pixels are numbered 1.. in raster order
        line = ~inside
        _, near = cv2.distanceTransformWithLabels(line.view(np.uint8), cv2.DIST_L2, 3,
                                                  labelType=cv2.DIST_LABEL_PIXEL)
        filled = lab.copy()
        filled[line] = lab[inside][near[line] - 1]
    # boundaries: 4-neighbouring pixels whose filled labels differ
    ys, xs = np.nonzero(filled[:, 1:] != filled[:, :-1])
    yv, xv = np.nonzero(filled[1:, :] != filled[:-1, :])
    a = np.concatenate([filled[ys, xs], filled[yv, xv]]).astype(np.int64) - 1
    b = np.concatenate([filled[ys, xs + 1], filled[yv + 1, xv]]).astype(np.int64) - 1
    ones = np.ones(a.size, np.float32)
    adj = sp.coo_matrix((np.concatenate([ones, ones]), (np.concatenate([a, b]),
                                                        np.concatenate([b, a]))),
                        shape=(n, n)).tocsr()
    adj.sum_duplicates()
    return FrameGraph(adj.astype(np.float32))


def bank_graph(graphs: Mapping[int, FrameGraph], ref_index: np.ndarray,
               ref_segment: np.ndarray) -> FrameGraph:
    """The block-diagonal graph of a bank's rows (``ref_index`` = source, ``ref_segment`` =
    label in it): rows touch only within one source frame. A source without a graph
    contributes rows with no neighbours."""
    ref_index = np.asarray(ref_index, np.int64)
    ref_segment = np.asarray(ref_segment, np.int64)
    m = ref_index.size
    rows, cols, vals = [], [], []
    for src in np.unique(ref_index).tolist():
        g = graphs.get(src)
        if g is None:
            continue
        at = np.flatnonzero(ref_index == src)
        seg = ref_segment[at] - 1
        ok = (seg >= 0) & (seg < g.n_segments)
        at, seg = at[ok], seg[ok]
        # local row of each label of this source, -1 where the bank holds no row for it
        local = np.full(g.n_segments, -1, np.int64)
        local[seg] = at
        coo = g.adjacency.tocoo()
        ra, rb = local[coo.row], local[coo.col]
        keep = (ra >= 0) & (rb >= 0)
        rows.append(ra[keep])
        cols.append(rb[keep])
        vals.append(coo.data[keep])
    if rows:
        adj = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(m, m)).tocsr()
    else:
        adj = sp.csr_matrix((m, m), dtype=np.float32)
    return FrameGraph(adj.astype(np.float32))


def join_graphs(first: FrameGraph, second: FrameGraph | None, n_second: int) -> FrameGraph:
    """The graph of ``Bank.extend``: ``second``'s rows (``n_second`` of them; None = no
    edges) after ``first``'s, with no edge between the two."""
    extra = second.adjacency if second is not None else \
        sp.csr_matrix((n_second, n_second), dtype=np.float32)
    return FrameGraph(sp.block_diag((first.adjacency, extra), format="csr", dtype=np.float32))


def _row_normalize(adj: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to sum 1 (rows without neighbours stay zero)."""
    total = np.asarray(adj.sum(axis=1), np.float64).ravel()
    inv = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    return (sp.diags(inv.astype(np.float32)) @ adj).tocsr()


def _softmax_rows(x: np.ndarray, temperature: float) -> np.ndarray:
    z = x / np.float32(temperature)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def refine_similarity(similarity: torch.Tensor, target: FrameGraph, bank: FrameGraph, *,
                      weight: float = WEIGHT, temperature: float = TEMPERATURE,
                      rounds: int = ROUNDS) -> torch.Tensor:
    """(N, M) similarities rescored by graph context (module docstring), in [0, 1].

    Returns ``S + weight * spread * support`` (support in [-1, 1], spread = the standard
    deviation of S; the softmax temperature is ``temperature * spread`` too); segments
    without target neighbours, and segments identical to a bank segment (similarity >=
    ``EXACT``, e.g. in a held frame), keep their row's order. ``target`` is the target frame's
    graph (N segments), ``bank`` the bank's (M rows, see :func:`bank_graph`).
    """
    n, m = similarity.shape
    if n != target.n_segments or m != bank.n_segments:
        raise ValueError(f"similarity is {n}x{m}, graphs have {target.n_segments} and "
                         f"{bank.n_segments} segments")
    if n == 0 or m == 0 or weight <= 0 or rounds < 1:
        return similarity
    s = similarity.detach().float().cpu().numpy()
    spread = float(s.std())
    if not spread > 0:
        return similarity
    temperature, weight = temperature * spread, weight * spread
    # neighbours weighted by the square root of the shared boundary's length
    wt = _row_normalize(target.adjacency.sqrt())
    near = (bank.adjacency > 0).astype(np.float32).tocsr()  # open neighbourhood (symmetric)
    cur = s
    for _ in range(rounds):
        p = _softmax_rows(cur, temperature)
        mass = np.asarray(near @ p.T).T                   # (N, M): k's mass next to j
        mass -= mass.mean(axis=0, keepdims=True)  # less what any segment gives j (hubs)
        support = np.asarray(wt @ mass, np.float32)       # (N, M): mean over i's neighbours
        cur = s + np.float32(weight) * support
    exact = s.max(axis=1) >= EXACT  # a segment identical to a bank segment keeps it
    cur[exact] = s[exact]
    out = torch.from_numpy(np.ascontiguousarray(cur))
    return out.to(device=similarity.device)
