"""Low-level labelling of masks, label maps and sparse pixel sets: the primitives the
line decisions (:mod:`.lineart`), gap closing (:mod:`.gapclose`) and segmentation
(:mod:`.segments`) share. Imports nothing else of the package."""

from __future__ import annotations

import cv2
import numpy as np


def connected_components(mask: np.ndarray, connectivity: int) -> tuple[int, np.ndarray]:
    """OpenCV labelling of a HxW uint8 mask -> (count incl. background, int32 labels).

    Uses the pixel-scan SAUF algorithm, whose labels follow raster order of each
    component's first pixel (like scikit-image) for 4- and 8-connectivity; OpenCV's
    default 8-connected block algorithms do not.
    """
    return cv2.connectedComponentsWithAlgorithm(mask, connectivity, cv2.CV_32S, cv2.CCL_SAUF)


def label_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-major runs of equal labels of HxW labels: (starts (flat index), lengths,
    labels), each (R,) in raster order."""
    flat = np.ascontiguousarray(labels).ravel()
    if flat.size == 0:
        e = np.zeros(0, np.int64)
        return e, e, flat[:0]
    ends = np.flatnonzero(flat[1:] != flat[:-1])  # last index of each run but the final
    starts = np.concatenate(([0], ends + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    return starts, lengths, flat[starts]


def label_areas(labels: np.ndarray, n: int) -> np.ndarray:
    """(n+1,) int64 pixel count per label 0..n of HxW labels (via run lengths: faster
    than a bincount over every pixel when regions are large)."""
    return run_areas(label_runs(labels), n)


def run_areas(runs: tuple[np.ndarray, np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """:func:`label_areas` from the :func:`label_runs` of the labels."""
    starts, lengths, lab = runs
    if starts.size == 0:
        return np.zeros(n + 1, np.int64)
    return np.bincount(lab, weights=lengths, minlength=n + 1).astype(np.int64)


def point_components(xs: np.ndarray, ys: np.ndarray, width: int) -> np.ndarray:
    """8-connected components of a sparse pixel set given in raster order.

    xs, ys: (N,) pixel coordinates sorted in raster order. Returns (N,) int64 component
    ids 1..k numbered in raster order of each component's first pixel (as a scan
    labelling would). Cost O(N log N), independent of the image size.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as graph_components

    n = xs.size
    stride = width + 2  # x - 1 and x + 1 never alias a pixel of another row
    key = ys * stride + xs
    src, dst = [], []
    for off in (1, stride - 1, stride, stride + 1):  # right, down-left, down, down-right
        want = key + off
        pos = np.minimum(np.searchsorted(key, want), n - 1)
        hit = key[pos] == want
        src.append(np.flatnonzero(hit))
        dst.append(pos[hit])
    src_a, dst_a = np.concatenate(src), np.concatenate(dst)
    g = coo_matrix((np.ones(src_a.size, np.int8), (src_a, dst_a)), shape=(n, n))
    _, comp = graph_components(g.tocsr())  # weakly connected: links in either direction
    # renumber by first point (points are in raster order)
    uniq, first = np.unique(comp, return_index=True)
    rank = np.empty(uniq.size, np.int64)
    rank[np.argsort(first)] = np.arange(1, uniq.size + 1)  # first points all differ
    return rank[comp]
