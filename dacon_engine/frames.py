"""The data that flows through the engine: segmented frames and references."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SegmentedFrame:
    """A line-art frame and its segments.

    line:   HxWx4 uint8 RGBA exactly as read (line pixels are copied from it into outputs).
    labels: HxW int32; 0 = line pixel, 1..n_segments = regions.
    line_art: how the line pixels were decided (JSON-ready; see
              ``segments.segment_line_art_details``: line_mode fixed/adaptive, ...).
    prepared: the network's inputs made by a stage worker (``model.featurizer.FrameInputs``);
              such a frame's pixels stay with that worker (``line`` and ``labels`` empty).
    """

    line: np.ndarray
    labels: np.ndarray
    n_segments: int
    path: Path | None = None
    line_art: dict = field(default_factory=dict)
    prepared: object | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.labels.shape[0]), int(self.labels.shape[1])

    def areas(self) -> np.ndarray:
        """(n_segments,) int64 pixel count of segments 1..n (row i = label i+1)."""
        return np.bincount(self.labels.ravel(), minlength=self.n_segments + 1)[1:].astype(np.int64)


@dataclass
class Reference:
    """A colored reference: its segments and one RGBA color per segment.

    colors: (n_segments, 4) uint8; row i is the color of label i+1.
    """

    frame: SegmentedFrame
    colors: np.ndarray
    name: str = ""
    color_path: Path | None = None
    extra: dict = field(default_factory=dict)
