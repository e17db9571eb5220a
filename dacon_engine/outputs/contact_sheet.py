"""A PNG contact sheet: a grid of images (e.g. target | references | result) for review."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import DaconError
from ..fileio.files import atomic_path
from ..fileio.images import as_rgba

PAD = 6                     # px between cells and around the sheet
CAPTION_H = 16              # px of a caption band
SHEET_BG = (250, 250, 250)  # RGB
TEXT_RGB = (40, 40, 40)
CHECKER = (255, 228)        # light / dark square grey levels
CHECKER_SIZE = 8


def checkerboard(h: int, w: int, size: int = CHECKER_SIZE) -> np.ndarray:
    """HxWx3 float32 light checkerboard in [0, 1]."""
    yy, xx = np.indices((h, w))
    on = ((yy // size + xx // size) % 2).astype(bool)
    out = np.where(on, CHECKER[1], CHECKER[0]).astype(np.float32) / 255.0
    return np.repeat(out[:, :, None], 3, axis=2)


def fit_cell(image: np.ndarray, max_cell: int) -> np.ndarray:
    """Resize to fit in max_cell x max_cell keeping aspect, then composite over a
    checkerboard. Input HxW / HxWx3 / HxWx4 uint8; returns hxwx3 uint8 RGB.

    Colors are resized premultiplied (no dark fringes at transparent edges): INTER_AREA
    when shrinking, INTER_NEAREST when enlarging (keeps flat colors crisp).
    """
    rgba = as_rgba(np.asarray(image)).astype(np.float32) / 255.0
    h, w = rgba.shape[:2]
    if h == 0 or w == 0:
        raise ValueError("cannot place an empty image on a contact sheet")
    scale = min(max_cell / h, max_cell / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    prem = np.concatenate([rgba[:, :, :3] * rgba[:, :, 3:], rgba[:, :, 3:]], axis=2)
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
        prem = cv2.resize(prem, (nw, nh), interpolation=interp)
    a = prem[:, :, 3:]
    out = prem[:, :, :3] + (1.0 - a) * checkerboard(nh, nw)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _put_text(canvas: np.ndarray, text: str, x: int, y: int, max_w: int) -> None:
    """Draw ``text`` with its baseline at y, shortened with '...' to fit max_w px."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    text = text.encode("ascii", "replace").decode("ascii")  # Hershey fonts are ASCII-only
    t = text
    while t and cv2.getTextSize(t, font, scale, thick)[0][0] > max_w:
        t = t[:-1]
    if t != text and len(t) > 3:
        t = t[:-3] + "..."
    cv2.putText(canvas, t, (x, y), font, scale, TEXT_RGB, thick, cv2.LINE_AA)


def render_contact_sheet(rows: Sequence[Sequence[np.ndarray]],
                         labels: Sequence[str] | None = None, max_cell: int = 256,
                         captions: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """The sheet as an HxWx3 uint8 RGB array.

    rows:     images per row (any length; cells are max_cell x max_cell boxes).
    labels:   optional one caption per row, drawn above the row.
    captions: optional per-cell captions (same shape as rows), drawn under each cell.
    """
    rows = [list(r) for r in rows]
    if not rows or not any(rows):
        raise ValueError("a contact sheet needs at least one image")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    if max_cell < 8:
        raise ValueError("max_cell must be at least 8 px")
    ncol = max(len(r) for r in rows)
    label_h = CAPTION_H if labels is not None else 0
    cap_h = CAPTION_H if captions is not None else 0
    row_h = label_h + max_cell + cap_h + PAD
    H = PAD + row_h * len(rows)
    W = PAD + (max_cell + PAD) * ncol
    sheet = np.empty((H, W, 3), np.uint8)
    sheet[:] = SHEET_BG
    for i, row in enumerate(rows):
        y0 = PAD + i * row_h
        if labels is not None:
            _put_text(sheet, str(labels[i]), PAD, y0 + CAPTION_H - 4, W - 2 * PAD)
        for j, img in enumerate(row):
            cell = fit_cell(img, max_cell)
            ch, cw = cell.shape[:2]
            x = PAD + j * (max_cell + PAD) + (max_cell - cw) // 2
            y = y0 + label_h + (max_cell - ch) // 2
            sheet[y:y + ch, x:x + cw] = cell
            if captions is not None and i < len(captions) and j < len(captions[i]):
                _put_text(sheet, str(captions[i][j]), PAD + j * (max_cell + PAD),
                          y0 + label_h + max_cell + CAPTION_H - 4, max_cell)
    return sheet


def make_contact_sheet(rows: Sequence[Sequence[np.ndarray]],
                       labels: Sequence[str] | None, path: str | os.PathLike,
                       max_cell: int = 256, *, captions: Sequence[Sequence[str]] | None = None,
                       overwrite: bool = True) -> Path:
    """Render a contact sheet (see :func:`render_contact_sheet`) and write it as an
    opaque RGBA PNG, atomically. Returns the path."""
    from ..fileio import images as imageio

    path = Path(path)
    rgb = render_contact_sheet(rows, labels, max_cell, captions)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    with atomic_path(path, overwrite=overwrite) as tmp:
        try:
            imageio.write_png(tmp, rgba, overwrite=True)
        except DaconError:
            raise
        except (RuntimeError, OSError, ValueError) as e:
            raise DaconError(path, f"cannot write contact sheet ({e})") from None
    return path


__all__ = ["checkerboard", "fit_cell", "make_contact_sheet", "render_contact_sheet"]
