"""Rasterizer for the procedural line art: painter's algorithm on a part-id map.

The canvas holds two arrays while a frame is drawn:

* ``part``  int32 HxW: the part/subregion id of every pixel; 0 = black line, 1 = background.
* ``cline`` uint8 HxW: 0, or the code of a pure-color shading line on that pixel
  (1 = red/highlight boundary, 2 = green, 3 = blue/shadow boundary). A color-line pixel
  keeps the id of the subregion it was drawn into.

Every filled shape gets an outline *inside* its own mask (the mask minus its erosion), so
the shape's non-line pixels never touch a 4-neighbour that belongs to something else:
regions are always closed for 4-connected segmentation. Pixels that are already black lines
count as "inside" for the erosion, so outlines are not doubled along existing lines.

No antialiasing anywhere: fills use cv2.fillPoly and strokes cv2.polylines with LINE_8.
"""

from __future__ import annotations

import cv2
import numpy as np

BG_ID = 1
LINE_ID = 0
RED, GREEN, BLUE = 1, 2, 3
CODE_RGB = {RED: (255, 0, 0), GREEN: (0, 255, 0), BLUE: (0, 0, 255)}

_SHIFT = 3
_ONE = 1 << _SHIFT
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_BOX = np.ones((3, 3), np.uint8)
_KERNELS = {t: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * t + 1, 2 * t + 1)) for t in range(1, 9)}
_KERNELS[1] = _CROSS


def _kernel(t: int) -> np.ndarray:
    return _KERNELS[int(min(max(t, 1), 8))]


class Canvas:
    """Painter's-algorithm raster of part ids and color-line codes."""

    def __init__(self, height: int, width: int, tone_mode: str = "color"):
        """tone_mode: how shading subregions are drawn: "color" (separated by pure-color
        lines), "black" (separated by black lines) or "none" (no shading subregions)."""
        if tone_mode not in ("color", "black", "none"):
            raise ValueError(f"tone_mode must be color, black or none, got {tone_mode!r}")
        self.tone_mode = tone_mode
        self.h, self.w = int(height), int(width)
        self.part = np.full((self.h, self.w), BG_ID, np.int32)
        self.cline = np.zeros((self.h, self.w), np.uint8)

    # -- helpers -----------------------------------------------------------------------
    def _bbox(self, pts: np.ndarray, margin: int):
        if pts.size == 0 or not np.isfinite(pts).all():
            return None
        x0 = max(int(np.floor(pts[:, 0].min())) - margin, 0)
        y0 = max(int(np.floor(pts[:, 1].min())) - margin, 0)
        x1 = min(int(np.ceil(pts[:, 0].max())) + margin + 1, self.w)
        y1 = min(int(np.ceil(pts[:, 1].max())) + margin + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    @staticmethod
    def _fixed(pts: np.ndarray, x0: int, y0: int) -> np.ndarray:
        q = (pts - np.array([x0, y0], np.float64)) * _ONE
        if np.abs(q).max() > (1 << 24):
            q = np.clip(q, -(1 << 24), 1 << 24)
        return np.round(q).astype(np.int32).reshape(-1, 1, 2)

    def _poly(self, pts, x0, y0, shape) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.fillPoly(m, [self._fixed(pts, x0, y0)], 1, cv2.LINE_8, _SHIFT)
        return m.view(bool)

    # -- drawing -----------------------------------------------------------------------
    def shape(self, pts, pid: int, thick: int = 1, tones=(), clip=None, outline_code: int = 0,
              outline: bool = True):
        """Fill polygon ``pts`` (Nx2 float, image coords) with ``pid`` and outline it.

        tones: sequence of (tone_pid, tone_pts, invert, code): the part of the shape inside
            polygon tone_pts (outside when invert) becomes tone_pid, separated from the rest
            of the shape by a 1-px line of color ``code``.
        clip: ids the shape may cover (only pixels currently holding one of them), or None.
        outline_code: 0 = black outline, else a color-line code for the outline.
        Returns the shape's pixel mask in its bbox (or None when nothing was drawn).
        """
        pts = np.asarray(pts, np.float64)
        bb = self._bbox(pts, int(thick) + 2)
        if bb is None:
            return None
        x0, y0, x1, y1 = bb
        P = self.part[y0:y1, x0:x1]
        C = self.cline[y0:y1, x0:x1]
        m = self._poly(pts, x0, y0, P.shape)
        if clip is not None:
            m &= np.isin(P, np.asarray(clip, np.int32))
        if not m.any():
            return None
        P[m] = pid
        C[m] = 0
        if self.tone_mode == "none":
            tones = ()
        if self.tone_mode != "color":
            outline_code = 0
        for tone_pid, tpts, invert, code in tones:
            tm = self._poly(np.asarray(tpts, np.float64), x0, y0, P.shape)
            if invert:
                tm = ~tm
            tm &= m & (P == pid)
            if not tm.any():
                continue
            P[tm] = tone_pid
            rest = (m & ~tm).view(np.uint8)
            edge = tm & cv2.dilate(rest, _CROSS).view(bool)
            if self.tone_mode == "black":
                P[edge] = LINE_ID
            else:
                C[edge] = code
        if outline:
            solid = (m | (P == LINE_ID)).view(np.uint8)
            ol = m & ~cv2.erode(solid, _kernel(thick)).view(bool)
            if outline_code:
                C[ol] = outline_code
            else:
                P[ol] = LINE_ID
                C[ol] = 0
        return m

    def stroke(self, pts, thick: int = 1, closed: bool = False, code: int = 0, clip=None):
        """Draw an (open) polyline: black line pixels, or color-line pixels when code."""
        pts = np.asarray(pts, np.float64)
        bb = self._bbox(pts, int(thick) + 2)
        if bb is None:
            return
        x0, y0, x1, y1 = bb
        P = self.part[y0:y1, x0:x1]
        C = self.cline[y0:y1, x0:x1]
        m = np.zeros(P.shape, np.uint8)
        cv2.polylines(m, [self._fixed(pts, x0, y0)], closed, 1, int(max(thick, 1)), cv2.LINE_8, _SHIFT)
        m = m.view(bool)
        if clip is not None:
            m &= np.isin(P, np.asarray(clip, np.int32))
        if code and self.tone_mode != "color":
            return
        if code:
            m &= P != LINE_ID
            C[m] = code
        else:
            P[m] = LINE_ID
            C[m] = 0

    # -- finishing ---------------------------------------------------------------------
    def _split_color_lines(self) -> None:
        """Color lines of different shapes must not form one 8-connected component (it
        would merge into one segment spanning both shapes, e.g. across a thin diagonal
        black line): where two same-colored pixels drawn for different parts touch (8-way),
        one of them becomes black line."""
        for code in (RED, BLUE, GREEN):
            mask = (self.cline == code).view(np.uint8)
            x, y, w, h = cv2.boundingRect(mask)
            if w == 0:
                continue
            M = mask[y:y + h, x:x + w].view(bool)
            F = np.where(M, (self.part[y:y + h, x:x + w] - 2) // 4, -1)
            kill = np.zeros_like(M)
            for dy, dx in ((0, 1), (1, 1), (1, 0), (1, -1)):
                ys0, ys1 = 0, h - dy
                xs0, xs1 = max(0, -dx), w - max(0, dx)
                a = F[ys0:ys1, xs0:xs1]
                b = F[ys0 + dy:ys1 + dy, xs0 + dx:xs1 + dx]
                bad = (a >= 0) & (b >= 0) & (a != b)
                kill[ys0:ys1, xs0:xs1] |= bad
            if kill.any():
                P = self.part[y:y + h, x:x + w]
                C = self.cline[y:y + h, x:x + w]
                P[kill] = LINE_ID
                C[kill] = 0

    def resolve_color_lines(self, min_region: int = 3) -> None:
        """Give every color-line pixel the subregion id of the segment it merges into.

        Mirrors dacon_engine.segmentation.segments: colors in the order red, blue, green; each
        8-connected component of one color looks at the regions among its 4-neighbours
        (pixels of earlier colors that merged count with their region): touching >= 2, it
        joins the smallest (areas before this step, ties -> lower raster label); otherwise
        it is a segment of its own and keeps its most frequent drawn id (one color).

        First, regions of <= ``min_region`` px (slivers between nearly parallel lines)
        become black line, so the line art has no specks.
        """
        self._split_color_lines()
        nonline = ((self.part != LINE_ID) & (self.cline == 0)).view(np.uint8)
        n, L, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            nonline, 4, cv2.CV_32S, cv2.CCL_SAUF)
        area = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
        area[0] = np.iinfo(np.int64).max
        if min_region > 0:
            small = area <= min_region
            if small.any():
                hit = small[L]
                self.part[hit] = LINE_ID
                L[hit] = 0
        if not self.cline.any():
            return
        region_part = np.zeros(n, np.int32)
        region_part[L.ravel()] = self.part.ravel()
        H, W = L.shape
        for code in (RED, BLUE, GREEN):
            mask = (self.cline == code).view(np.uint8)
            x, y, bw, bh = cv2.boundingRect(mask)
            if bw == 0:
                continue
            sub = np.ascontiguousarray(mask[y:y + bh, x:x + bw])
            nc, comp = cv2.connectedComponents(sub, connectivity=8, ltype=cv2.CV_32S)
            ys, xs = np.nonzero(sub)
            cid = comp[ys, xs].astype(np.int64)
            gy, gx = ys + y, xs + x
            nb = np.concatenate([L[np.maximum(gy - 1, 0), gx], L[np.minimum(gy + 1, H - 1), gx],
                                 L[gy, np.maximum(gx - 1, 0)], L[gy, np.minimum(gx + 1, W - 1)]])
            c4 = np.tile(cid, 4)
            ok = nb > 0
            key = np.unique(c4[ok] * n + nb[ok])
            kc, kl = key // n, key % n
            cnt = np.bincount(kc, minlength=nc)
            order = np.lexsort((kl, area[kl], kc))
            kc, kl = kc[order], kl[order]
            first = np.ones(kc.size, bool)
            first[1:] = kc[1:] != kc[:-1]
            target = np.zeros(nc, np.int64)
            target[kc[first]] = kl[first]
            merged = cnt >= 2
            new_part = np.zeros(nc, np.int32)
            new_part[merged] = region_part[target[merged]]
            # components of their own keep their most frequent drawn id
            own = ~merged[cid]
            if own.any():
                pv = self.part[gy[own], gx[own]].astype(np.int64)
                pk, pc = np.unique(cid[own] * (1 << 32) + pv, return_counts=True)
                pcid, ppart = pk >> 32, pk & 0xFFFFFFFF
                o = np.lexsort((ppart, -pc, pcid))
                pcid, ppart = pcid[o], ppart[o]
                f = np.ones(pcid.size, bool)
                f[1:] = pcid[1:] != pcid[:-1]
                new_part[pcid[f]] = ppart[f]
            # tiny color specks that would be segments of their own become black line
            size = np.bincount(cid, minlength=nc)
            speck = ~merged & (size <= 6)
            speck[0] = False
            new_part[speck] = LINE_ID
            self.part[gy, gx] = new_part[cid]
            sp = speck[cid]
            if sp.any():
                self.cline[gy[sp], gx[sp]] = 0
            m = merged[cid]
            L[gy[m], gx[m]] = target[cid[m]]
