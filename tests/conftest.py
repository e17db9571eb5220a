"""Shared pytest fixtures (keep small)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# Sample PaintBucket frame shared beside the repo (never copied into the project).
SHARED_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "paintbucket_0242"


@pytest.fixture
def paintbucket_sample() -> Path:
    """Folder with line.png / seg.png / gt.png / label.png of PaintBucket frame 0242."""
    if not (SHARED_SAMPLE / "line.png").is_file():
        pytest.skip(f"shared sample data not found at {SHARED_SAMPLE}")
    return SHARED_SAMPLE


def blank_line_art(h: int, w: int) -> np.ndarray:
    """HxWx4 uint8 transparent paper (stored RGB white) to draw line art on."""
    a = np.zeros((h, w, 4), np.uint8)
    a[..., :3] = 255
    return a


@pytest.fixture
def paper():
    """Factory: paper(h, w) -> HxWx4 transparent line-art canvas."""
    return blank_line_art
