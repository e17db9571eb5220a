"""Draw one posed character onto a Canvas (back to front)."""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from .canvas import BLUE, GREEN, RED, Canvas
from .character import (
    TONE_BASE,
    TONE_DEEP,
    TONE_HIGHLIGHT,
    TONE_SHADOW,
    CharacterSpec,
    Pose,
    part_id,
)

_HEAD_OFFSET = np.array([0.0, -1.52])


def ellipse(cx, cy, rx, ry, ang=0.0, n=28) -> np.ndarray:
    """n points of an ellipse centered at (cx, cy), radii rx, ry, rotated by ang."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(ang), math.sin(ang)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def capsule(p0, p1, r0, r1, n=12) -> np.ndarray:
    """Convex hull of two circles (p0, r0) and (p1, r1): a tapered limb."""
    pts = np.concatenate([ellipse(p0[0], p0[1], r0, r0, n=n), ellipse(p1[0], p1[1], r1, r1, n=n)])
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    return hull.astype(np.float64)


def chaikin(pts, iterations: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a closed polygon."""
    p = np.asarray(pts, np.float64)
    for _ in range(iterations):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], 1).reshape(-1, 2)
    return p


def _mirror(pts_right: list) -> np.ndarray:
    """Left half from a right half listed top to bottom: returns a closed symmetric outline."""
    r = np.asarray(pts_right, np.float64)
    left = r[::-1] * np.array([-1.0, 1.0])
    return np.concatenate([r, left])


class _Xf:
    """Body and head units -> image pixels for one pose (scale, roll, flip, head tilt)."""

    def __init__(self, pose: Pose, H: int, W: int):
        self.s = pose.scale * min(H, W)
        c, si = math.cos(pose.roll), math.sin(pose.roll)
        fx = -1.0 if pose.flip else 1.0
        self.A = self.s * np.array([[c, -si], [si, c]]) @ np.diag([fx, 1.0])
        self.b = np.array([pose.x * W, pose.y * H])
        ct, st = math.cos(pose.head_tilt), math.sin(pose.head_tilt)
        self.Rh = np.array([[ct, -st], [st, ct]])

    def body(self, pts) -> np.ndarray:
        """Body-unit points to image space."""
        return np.asarray(pts, np.float64) @ self.A.T + self.b

    def head(self, pts) -> np.ndarray:
        """Head-unit points (pivoting about the neck base) to image space."""
        q = (np.asarray(pts, np.float64) + _HEAD_OFFSET) @ self.Rh.T
        return self.body(q)

    def vec(self, v) -> np.ndarray:
        """A direction in body units to image space (no translation)."""
        return np.asarray(v, np.float64) @ self.A.T


# One shading subregion for Canvas.shape: (part id, outline points, closed, line code).
Tone = tuple[int, np.ndarray, bool, int]


class _Ctx:
    """What every drawing step of one character needs: canvas, spec, pose, transform, widths."""

    def __init__(self, cv: Canvas, spec: CharacterSpec, pose: Pose, slot: int):
        self.cv, self.spec, self.pose, self.slot = cv, spec, pose, slot
        self.X = _Xf(pose, cv.h, cv.w)
        self.s = self.X.s
        self.lw = int(np.clip(round(self.s * spec.line_k), 1, 4))
        self.li = max(1, self.lw - 1)
        self.light = np.array([math.cos(pose.light), math.sin(pose.light)])
        self.yaw = float(pose.yaw)

    def pid(self, name: str, tone: int = TONE_BASE) -> int:
        """Part-map id of one of this character's parts."""
        return part_id(self.slot, name, tone)

    def ids(self, *names: str) -> list[int]:
        """Part-map ids of all tones of the named parts (a clip mask)."""
        return [part_id(self.slot, n, t) for n in names for t in range(4)]

    def shade(self, name: str, pts: np.ndarray, k: float = 0.14, tone: int = TONE_SHADOW,
              code: int = BLUE) -> Tone:
        """A shadow tone: the outline shifted along the light by k head units."""
        return (self.pid(name, tone), pts + self.light * k * self.s, True, code)

    def warp(self, pts, amt: float = 0.38) -> np.ndarray:
        """Yaw for head coordinates: features shift toward the turn, the far side compresses."""
        yaw = self.yaw
        p = np.array(pts, np.float64)
        x = p[:, 0]
        p[:, 0] = x * (1 - 0.2 * yaw * np.sign(x)) + amt * yaw * np.clip(1 - (x / 1.3) ** 2, 0, 1)
        return p

    def bw(self, pts) -> np.ndarray:
        """Body twist for the front of the torso (collar, tie, buttons), then to image space."""
        p = np.array(pts, np.float64)
        p[:, 0] += 0.25 * self.yaw * np.clip(1 - (p[:, 0] / 1.6) ** 2, 0, 1)
        return self.X.body(p)


class _Hair(NamedTuple):
    """Hair geometry shared by the back hair, the face shadow and the front hair."""

    cap: np.ndarray  # skull cap outline (head units)
    gaps: np.ndarray  # x of the gaps between bang tips, right to left
    bang_img: np.ndarray  # front hair outline in image space


def draw_character(cv: Canvas, spec: CharacterSpec, pose: Pose, slot: int) -> None:
    """Draw one posed character onto cv, back to front."""
    c = _Ctx(cv, spec, pose, slot)
    hair = _hair_geometry(c)
    _draw_back_hair(c, hair.cap)
    _draw_ponytail(c)
    _draw_twin_tails(c)
    _draw_legs(c)
    face_img = _face_outline(c)
    _draw_neck(c, face_img)
    _draw_clothes(c)
    for k, (sg, side) in enumerate(((-1, "l"), (1, "r"))):
        _draw_arm(c, k, sg, side)
    _draw_ears(c)
    _draw_face(c, face_img, hair.bang_img)
    _draw_nose(c)
    _draw_mouth(c)
    _draw_eyes(c)
    _draw_blush(c)
    _draw_glasses(c)
    _draw_front_hair(c, hair)
    _draw_side_locks(c)
    _draw_ahoge(c)
    _draw_hair_accessory(c)
    _draw_hat(c)


# ---------------------------------------------------------------------------------------- hair
def _hair_geometry(c: _Ctx) -> _Hair:
    """Skull cap and the bang outline (tips, gaps, an eye-covering tip) of the front hair."""
    spec = c.spec
    a = np.linspace(math.pi * 0.94, math.pi * 2.06, 22)
    rad = 1.0 + spec.spiky * np.abs(((a - a[0]) / (a[-1] - a[0]) * 7) % 2 - 1) * (np.sin(a) < -0.2)
    cap = np.stack([1.12 * spec.head_w * rad * np.cos(a), -0.06 + 1.14 * rad * np.sin(a)], 1)
    bang = [cap, [[1.06 * spec.head_w, 0.55]]]
    tips = spec.bang_tips[np.argsort(-spec.bang_tips[:, 0])]
    xs = tips[:, 0]
    gaps = np.concatenate([[1.05], (xs[:-1] + xs[1:]) / 2, [-1.05]])
    eye_x = {sg: sg * spec.eye_dx for sg in (-1, 1)}
    for i, (tx, ty, lean) in enumerate(tips):
        vy = -0.28 + 0.07 * math.sin(3.1 * i + 1.0)
        bang.append([[gaps[i], vy if i else 0.3]])
        if spec.cover_eye and abs(tx - eye_x[spec.cover_eye]) < 0.25:
            ty = spec.eye_y + 0.45
        bang.append([[tx + lean, ty]])
    bang.append([[gaps[-1], 0.3], [-1.06 * spec.head_w, 0.55]])
    bang_h = c.warp(np.concatenate([np.asarray(b, np.float64) for b in bang]))
    return _Hair(cap, gaps, c.X.head(bang_h))


def _draw_back_hair(c: _Ctx, cap: np.ndarray) -> None:
    """Back hair mass (zigzag ends, deep-shadow inside, shadow) and its strands."""
    spec, X = c.spec, c.X
    hw = spec.hair_width
    yb = spec.hair_len + 0.2
    nt = spec.back_tips
    back = [cap * [hw / 1.12, 1.02]]
    back.append([[hw * 1.02, 0.4], [hw * 1.08, (yb + 0.4) / 2]])
    bx = np.linspace(hw * 1.1, -hw * 1.1, 2 * nt + 1)
    for i, x in enumerate(bx):
        jit = 0.1 * math.sin(2.3 * i + spec.hair_len)
        back.append([[x, yb + (0.3 + jit if i % 2 else -0.15 + jit)]])
    back.append([[-hw * 1.08, (yb + 0.4) / 2], [-hw * 1.02, 0.4]])
    back_img = X.head(c.warp(np.concatenate([np.asarray(b, np.float64) for b in back]), 0.1))
    inner = X.head(ellipse(0.3 * c.yaw, 0.6 + yb / 2, 0.72, max(yb / 2, 0.5), n=20))
    c.cv.shape(back_img, c.pid("hair_back"), c.lw,
               tones=[(c.pid("hair_back", TONE_DEEP), inner, False, GREEN),
                      c.shade("hair_back", back_img, 0.12)])
    if spec.open_strokes and yb > 1.2:  # strands on the back hair
        for sg in (-1, 1):
            for j, fx in enumerate((0.92, 0.8)):
                x0 = sg * hw * fx
                strand = [[x0, 0.2 + 0.3 * j], [x0 * 1.03, 0.3 + (yb - 0.3) * (0.55 + 0.15 * j)]]
                c.cv.stroke(X.head(c.warp(strand, 0.1)), c.li)


def _draw_ponytail(c: _Ctx) -> None:
    """Ponytail on the bow side (if any)."""
    spec = c.spec
    if spec.ponytail > 0:
        L = spec.ponytail
        sgp = spec.bow_side
        pt = np.array([[0.5, -1.0], [1.05, -1.05], [1.55, -0.4], [1.7, L * 0.5], [1.35, L],
                       [1.2, L * 0.45], [0.95, -0.45]]) * [sgp, 1]
        pti = c.X.head(c.warp(pt, 0.1))
        c.cv.shape(pti, c.pid("ponytail"), c.lw, tones=[c.shade("ponytail", pti, 0.16)])


def _draw_twin_tails(c: _Ctx) -> None:
    """Left and right twin tails (if any)."""
    spec = c.spec
    if spec.tails > 0:
        L = spec.tails
        for sg, name in ((-1, "tail_l"), (1, "tail_r")):
            t = np.array([[0.8, -0.75], [1.5, -0.55], [1.95, L * 0.45], [1.55, L], [1.25, L * 0.5],
                          [0.95, -0.1]]) * [sg, 1]
            ti = c.X.head(c.warp(t, 0.1))
            c.cv.shape(ti, c.pid(name), c.lw, tones=[c.shade(name, ti, 0.16)])


# ---------------------------------------------------------------------------------------- body
def _draw_legs(c: _Ctx) -> None:
    """Both legs (trousers or bare) with shoes and their highlights."""
    spec, pose, X, lw = c.spec, c.pose, c.X, c.lw
    for sg, leg, shoe in ((-1, "leg_l", "shoe_l"), (1, "leg_r", "shoe_r")):
        hip = np.array([sg * 0.45, 3.0])
        ank = np.array([sg * (0.42 + pose.legs * 3.0), 7.6])
        lp = X.body(capsule(hip, ank, 0.45, 0.32) if spec.pants else capsule(hip, ank, 0.4, 0.2))
        c.cv.shape(lp, c.pid(leg), lw, tones=[c.shade(leg, lp, 0.12)])
        sp = X.body(ellipse(ank[0] + sg * 0.12, ank[1] + 0.2, 0.36, 0.2))
        hl = X.body(ellipse(ank[0] + sg * 0.1, ank[1] + 0.08, 0.16, 0.06))
        c.cv.shape(sp, c.pid(shoe), lw, tones=[(c.pid(shoe, TONE_HIGHLIGHT), hl, False, RED)])


def _face_outline(c: _Ctx) -> np.ndarray:
    """Face outline (top, cheeks, chin; smoothed, yawed) in image space."""
    spec = c.spec
    a2 = np.linspace(-math.pi / 2, 0.0, 8)
    top = np.stack([spec.head_w * np.cos(a2), -0.05 + 1.0 * np.sin(a2)], 1)
    cheek = np.array([[0.99, 0.22], [0.94, 0.45], [0.82, 0.66], [0.62, 0.84], [0.34, 0.98]])
    cheek[:, 1] *= spec.chin
    face_r = np.concatenate([top, cheek * [spec.head_w, 1], [[0.0, spec.chin]]])
    face_h = _mirror(face_r[::-1])  # right half from chin to top, then left half
    face_h = c.warp(chaikin(face_h, 2), 0.16)
    return c.X.head(face_h)


def _draw_neck(c: _Ctx, face_img: np.ndarray) -> None:
    """Neck, shadowed under the chin."""
    X = c.X
    neck = X.body([[-0.26, -1.0], [0.26, -1.0], [0.3, 0.3], [-0.3, 0.3]])
    chin_shadow = (c.pid("neck", TONE_SHADOW), face_img + X.vec([0, 0.28]), False, BLUE)
    c.cv.shape(neck, c.pid("neck"), c.lw, tones=[chin_shadow])


def _collar_outline(outfit: str) -> tuple[list[list[float]], float]:
    """Collar outline (body units) and the height of the tie for an outfit."""
    if outfit == "sailor":
        collar_h = [[-0.42, -0.15], [-1.05, 0.25], [-0.95, 0.8], [0.0, 1.3], [0.95, 0.8],
                    [1.05, 0.25], [0.42, -0.15], [0.28, -0.05], [0.0, 1.0], [-0.28, -0.05]]
        tie_y = 1.05
    elif outfit == "shirt":
        collar_h = [[-0.36, -0.14], [-0.02, 0.4], [-0.6, 0.35], [-0.45, -0.05]]
        tie_y = 0.32
    elif outfit == "jacket":
        collar_h = [[-0.38, -0.12], [-0.7, 0.35], [-0.35, 1.5], [-0.22, 1.5], [-0.25, 0.05]]
        tie_y = 0.3
    else:
        collar_h = [[-0.36, -0.12], [-0.62, 0.18], [-0.42, 0.45], [0.0, 0.25], [0.42, 0.45],
                    [0.62, 0.18], [0.36, -0.12]]
        tie_y = 0.3
    return collar_h, tie_y


def _draw_clothes(c: _Ctx) -> None:
    """Torso, inner shirt, collar, tie, buttons, skirt / trousers / shorts and belt."""
    hem = 3.15 if c.spec.outfit != "dress" else 2.6
    collar_h, tie_y = _collar_outline(c.spec.outfit)
    collar = c.bw(collar_h)
    _draw_torso(c, hem, collar)
    _draw_inner(c, hem)
    _draw_collar(c, collar_h, collar)
    _draw_tie(c, tie_y)
    _draw_buttons(c, hem)
    _draw_bottom(c)
    _draw_belt(c)


def _draw_torso(c: _Ctx, hem: float, collar: np.ndarray) -> None:
    """Torso (shadow, collar shadow) and its fold strokes."""
    tw = c.spec.torso_w
    torso = c.bw(_mirror([[0.33, -0.1], [tw, 0.22], [tw + 0.05, 0.7], [tw - 0.1, 1.4],
                          [tw - 0.3, 2.5], [tw - 0.18, hem]])[::-1])
    collar_shadow = (c.pid("torso", TONE_SHADOW), collar + c.X.vec([0, 0.22]), False, BLUE)
    c.cv.shape(torso, c.pid("torso"), c.lw, tones=[c.shade("torso", torso, 0.3), collar_shadow])
    if c.spec.open_strokes:
        for sg in (-1, 1):
            c.cv.stroke(c.bw([[sg * (tw - 0.1), 1.3], [sg * (tw - 0.45), 1.55],
                              [sg * (tw - 0.6), 1.6]]), c.li)
            c.cv.stroke(c.bw([[sg * (tw - 0.3), 2.3], [sg * (tw - 0.6), 2.45]]), c.li)


def _draw_inner(c: _Ctx, hem: float) -> None:
    """Inner shirt showing under a sailor collar or an open jacket."""
    spec = c.spec
    if spec.outfit in ("sailor", "jacket"):
        w0 = 0.3 if spec.outfit == "sailor" else 0.25
        bot = 1.0 if spec.outfit == "sailor" else hem
        inner_p = c.bw([[-w0, -0.08], [w0, -0.08], [0.4 if bot > 2 else 0.0, bot],
                        [-0.4 if bot > 2 else 0.0, bot]])
        c.cv.shape(inner_p, c.pid("inner"), c.li, tones=[c.shade("inner", inner_p, 0.2)])


def _draw_collar(c: _Ctx, collar_h: list, collar: np.ndarray) -> None:
    """Collar: two shirt flaps, two jacket lapels, or one piece (sailor stripe)."""
    spec, li = c.spec, c.li
    if spec.outfit == "shirt":
        for sg in (-1, 1):
            cp = c.bw(np.array(collar_h) * [sg, 1])
            c.cv.shape(cp, c.pid("collar"), li, tones=[c.shade("collar", cp, 0.1)])
    elif spec.outfit == "jacket":
        for sg in (-1, 1):
            cp = c.bw(np.array(collar_h) * [sg, 1])
            c.cv.shape(cp, c.pid("collar"), li)
    else:
        c.cv.shape(collar, c.pid("collar"), c.lw, tones=[c.shade("collar", collar, 0.12)])
        if spec.outfit == "sailor" and spec.open_strokes:
            stripe = np.array(collar_h[1:6]) * [0.86, 0.93] + [0, -0.02]
            c.cv.stroke(c.bw(stripe), li)


def _draw_tie(c: _Ctx, tie_y: float) -> None:
    """Ribbon (tie == 1) or necktie (tie == 2) with its knot."""
    cv, bw, li = c.cv, c.bw, c.li
    if c.spec.tie == 1:
        for sg in (-1, 1):
            wing = bw([[0, tie_y], [sg * 0.5, tie_y - 0.25], [sg * 0.55, tie_y + 0.2]])
            cv.shape(wing, c.pid("tie"), li, tones=[c.shade("tie", wing, 0.1)])
            tail = bw([[sg * 0.05, tie_y], [sg * 0.3, tie_y + 0.75], [sg * 0.12, tie_y + 0.7]])
            cv.shape(tail, c.pid("tie"), li)
        cv.shape(bw(ellipse(0, tie_y, 0.12, 0.13, n=12)), c.pid("tie_knot"), li)
    elif c.spec.tie == 2:
        tie = bw([[0, tie_y + 0.1], [0.15, tie_y + 0.4], [0.0, tie_y + 1.7], [-0.15, tie_y + 0.4]])
        cv.shape(tie, c.pid("tie"), li, tones=[c.shade("tie", tie, 0.08)])
        cv.shape(bw([[-0.11, tie_y - 0.05], [0.11, tie_y - 0.05], [0.07, tie_y + 0.14],
                     [-0.07, tie_y + 0.14]]), c.pid("tie_knot"), li)


def _draw_buttons(c: _Ctx, hem: float) -> None:
    """A column of buttons (off-center on a jacket)."""
    spec = c.spec
    bx0 = 0.0 if spec.outfit != "jacket" else -0.55
    for i in range(spec.n_buttons):
        by = 1.5 + i * (hem - 1.7) / max(spec.n_buttons, 1)
        c.cv.shape(c.bw(ellipse(bx0, by, 0.07, 0.07, n=12)), c.pid("button"), c.li)


def _draw_bottom(c: _Ctx) -> None:
    """Skirt (or dress), trouser hips, or shorts; all use the "skirt" part."""
    if c.spec.skirt or c.spec.outfit == "dress":
        _draw_skirt(c)
    elif c.spec.pants:
        _draw_trouser_hips(c)
    else:
        _draw_shorts(c)


def _draw_skirt(c: _Ctx) -> None:
    """Flared pleated skirt: pleat shadows and pleat strokes."""
    spec, X, li = c.spec, c.X, c.li
    tw = spec.torso_w
    top_y = 2.55
    sl = spec.skirt_len + (0.4 if spec.outfit == "dress" else 0)
    fl = 0.35 + 0.12 * sl
    skirt = X.body(_mirror([[tw - 0.28, top_y], [tw - 0.28 + fl, top_y + sl]])[::-1])
    tones = [c.shade("skirt", skirt, 0.2)]
    xs_top = np.linspace(-(tw - 0.28), tw - 0.28, spec.pleats + 2)[1:-1]
    xs_bot = xs_top * (tw - 0.28 + fl) / (tw - 0.28)
    for i, (xt, xb) in enumerate(zip(xs_top, xs_bot)):
        if i % 2 == 0:
            pleat = X.body([[xt, top_y], [xb, top_y + sl], [xb + 0.22, top_y + sl]])
            tones.append((c.pid("skirt", TONE_SHADOW), pleat, False, BLUE))
    c.cv.shape(skirt, c.pid("skirt"), c.lw, tones=tones)
    if spec.open_strokes:
        for xt, xb in zip(xs_top, xs_bot):
            c.cv.stroke(X.body([[xt, top_y], [xb, top_y + sl * 0.8]]), li)


def _draw_trouser_hips(c: _Ctx) -> None:
    """Hip piece of trousers (the legs are drawn with the legs)."""
    tw = c.spec.torso_w
    top_y = 2.55
    hips = c.X.body([[-(tw - 0.28), top_y], [tw - 0.28, top_y], [tw - 0.2, top_y + 0.9],
                     [0.15, top_y + 1.0], [0.0, top_y + 0.75], [-0.15, top_y + 1.0],
                     [-(tw - 0.2), top_y + 0.9]])
    c.cv.shape(hips, c.pid("skirt"), c.lw, tones=[c.shade("skirt", hips, 0.15)])


def _draw_shorts(c: _Ctx) -> None:
    """Shorts."""
    tw = c.spec.torso_w
    top_y = 2.55
    shorts = c.X.body([[-(tw - 0.28), top_y], [tw - 0.28, top_y], [tw - 0.1, top_y + 1.3],
                       [0.1, top_y + 1.3], [0.0, top_y + 0.8], [-0.1, top_y + 1.3],
                       [-(tw - 0.1), top_y + 1.3]])
    c.cv.shape(shorts, c.pid("skirt"), c.lw, tones=[c.shade("skirt", shorts, 0.18)])


def _draw_belt(c: _Ctx) -> None:
    """Belt with a highlight (if any)."""
    if c.spec.belt:
        tw = c.spec.torso_w
        top_y = 2.55
        belt = c.X.body([[-(tw - 0.3), top_y - 0.12], [tw - 0.3, top_y - 0.12],
                         [tw - 0.28, top_y + 0.12], [-(tw - 0.28), top_y + 0.12]])
        hl = (c.pid("belt", TONE_HIGHLIGHT), belt + c.X.vec([0, 0.12]), True, RED)
        c.cv.shape(belt, c.pid("belt"), c.li, tones=[hl])


# ---------------------------------------------------------------------------------------- arms
def _draw_arm(c: _Ctx, k: int, sg: int, side: str) -> None:
    """One arm: upper arm, sleeve, forearm, cuff, then the hand (and a held prop)."""
    spec, pose, X, lw = c.spec, c.pose, c.X, c.lw
    au, af = float(pose.arms[2 * k]), float(pose.arms[2 * k + 1])
    S = np.array([sg * (spec.torso_w - 0.22), 0.4])
    d1 = np.array([sg * math.sin(au), math.cos(au)])
    E = S + 1.6 * d1
    th = sg * af
    d2 = np.array([d1[0] * math.cos(th) - d1[1] * math.sin(th),
                   d1[0] * math.sin(th) + d1[1] * math.cos(th)])
    Wr = E + 1.45 * d2
    ua = X.body(capsule(S, E, 0.32, 0.26))
    c.cv.shape(ua, c.pid("upper_arm_" + side), lw, tones=[c.shade("upper_arm_" + side, ua, 0.1)])
    sl_end = S + (0.85 if not spec.long_sleeves else 1.2) * d1
    sv = X.body(capsule(S, sl_end, 0.4, 0.37))
    c.cv.shape(sv, c.pid("sleeve_" + side), lw, tones=[c.shade("sleeve_" + side, sv, 0.12)])
    fa = X.body(capsule(E, Wr, 0.26 if spec.long_sleeves else 0.24, 0.19))
    c.cv.shape(fa, c.pid("forearm_" + side), lw, tones=[c.shade("forearm_" + side, fa, 0.1)])
    if spec.long_sleeves:
        cf = X.body(capsule(Wr - 0.3 * d2, Wr - 0.05 * d2, 0.25, 0.25))
        c.cv.shape(cf, c.pid("cuff_" + side), c.li)
    _draw_hand(c, k, sg, side, Wr, d2)


def _draw_hand(c: _Ctx, k: int, sg: int, side: str, Wr: np.ndarray, d2: np.ndarray) -> None:
    """Hand at wrist Wr pointing along d2: held prop, thumb, palm, finger strokes."""
    X, li = c.X, c.li
    hc = Wr + 0.28 * d2
    ang = math.atan2(d2[1], d2[0])
    thumb = X.body(ellipse(*(Wr + 0.15 * d2 - sg * 0.16 * np.array([-d2[1], d2[0]])), 0.16, 0.08,
                           ang + 0.6 * sg, n=12))
    if c.spec.prop and k == c.spec.prop_hand:
        _draw_prop(c, c.spec.prop, hc, d2)
    c.cv.shape(thumb, c.pid("hand_" + side), li)
    hand = X.body(ellipse(hc[0], hc[1], 0.3, 0.21, ang, n=18))
    c.cv.shape(hand, c.pid("hand_" + side), li, tones=[c.shade("hand_" + side, hand, 0.08)])
    if c.spec.open_strokes and c.s > 30:
        f0 = hc + 0.05 * d2
        nrm = np.array([-d2[1], d2[0]])
        for o in (-0.07, 0.07):
            c.cv.stroke(X.body([f0 + o * nrm, f0 + 0.22 * d2 + o * nrm]), 1)


# ---------------------------------------------------------------------------------------- face
def _draw_ears(c: _Ctx) -> None:
    """Ears (the one turned away is hidden) with an inner stroke when large enough."""
    spec, X, yaw = c.spec, c.X, c.yaw
    for sg, name in ((-1, "ear_l"), (1, "ear_r")):
        if yaw * sg > 0.35:
            continue
        ex = sg * 0.97 * spec.head_w * (1 - 0.16 * yaw * sg)
        ep = X.head(ellipse(ex, 0.22, 0.16, 0.27, n=16))
        c.cv.shape(ep, c.pid(name), c.lw, tones=[c.shade(name, ep, 0.06)])
        if c.s > 40:
            c.cv.stroke(X.head([[ex - sg * 0.02, 0.1], [ex + sg * 0.05, 0.22], [ex, 0.33]]), 1)


def _draw_face(c: _Ctx, face_img: np.ndarray, bang_img: np.ndarray) -> None:
    """Face with the shadow cast by the bangs and a side shadow."""
    c.cv.shape(face_img, c.pid("face"), c.lw,
               tones=[(c.pid("face", TONE_SHADOW), bang_img + c.X.vec([0, 0.16]), False, BLUE),
                      c.shade("face", face_img, 0.07)])


def _draw_nose(c: _Ctx) -> None:
    """Nose stroke (open-stroke styles only)."""
    yaw = c.yaw
    fcx = 0.42 * yaw
    if c.spec.open_strokes:
        c.cv.stroke(c.X.head([[fcx + 0.02 + 0.05 * yaw, 0.6], [fcx + 0.05 * yaw, 0.68]]), c.li)


def _draw_mouth(c: _Ctx) -> None:
    """Mouth: closed stroke (0), small open (1) or wide open with tongue (2)."""
    spec, pose, X, li = c.spec, c.pose, c.X, c.li
    fcx = 0.42 * c.yaw
    my = 0.82 + 0.06 * (spec.chin - 1.0)
    if pose.mouth == 0:
        c.cv.stroke(X.head([[fcx - 0.11, my], [fcx, my + 0.02], [fcx + 0.11, my - 0.005]]), li)
    else:
        mw, mh = (0.1, 0.07) if pose.mouth == 1 else (0.16, 0.15)
        mouth = X.head([[fcx - mw, my - 0.01], [fcx + mw, my - 0.01],
                        [fcx + mw * 0.6, my + mh * 0.8], [fcx, my + mh],
                        [fcx - mw * 0.6, my + mh * 0.8]])
        c.cv.shape(mouth, c.pid("mouth"), li)
        if pose.mouth == 2:
            tg = X.head(ellipse(fcx + 0.02, my + mh * 0.95, mw * 0.55, mh * 0.45, n=14))
            c.cv.shape(tg, c.pid("tongue"), li, clip=c.ids("mouth"))


class _Eye(NamedTuple):
    """Placement of one eye in head units."""

    sg: int  # -1 left, 1 right
    side: str  # "l" | "r"
    cx: float
    cy: float
    w: float  # half width (compressed by yaw)
    h: float
    xs: np.ndarray  # 14 x positions, inner -> outer corner
    sin: np.ndarray  # sin(pi t) at those positions
    tilt: np.ndarray  # outer corner a bit higher


def _eye_frame(c: _Ctx, sg: int, side: str) -> _Eye | None:
    """Where one eye goes (yaw-compressed); None when it is turned out of view."""
    spec, yaw = c.spec, c.yaw
    far = max(0.0, yaw * sg)
    comp = 1 - 0.6 * far + 0.1 * max(0.0, -yaw * sg)
    if comp < 0.55:
        return None
    cx = sg * spec.eye_dx * (1 - 0.35 * yaw * sg) + 0.42 * yaw
    cy = spec.eye_y
    w, h = spec.eye_w * comp, spec.eye_h
    t = np.linspace(0, 1, 14)
    xs = cx + sg * w * (2 * t - 1)  # inner -> outer corner
    sin = np.sin(np.pi * t)
    tilt = -0.06 * (2 * t - 1)  # outer corner a bit higher
    return _Eye(sg, side, cx, cy, w, h, xs, sin, tilt)


def _draw_eyes(c: _Ctx) -> None:
    """Both eyes (closed arcs or open eyes) and brows."""
    op = float(np.clip(c.pose.eye_open, 0, 1))
    for sg, side in ((-1, "l"), (1, "r")):
        e = _eye_frame(c, sg, side)
        if e is None:
            continue
        if op < 0.25:
            _draw_closed_eye(c, e)
        else:
            _draw_open_eye(c, e, op)
        _draw_brow(c, e)


def _draw_closed_eye(c: _Ctx, e: _Eye) -> None:
    """A closed eye: a lid arc and a flick at the outer corner."""
    X, lw = c.X, c.lw
    arc = np.stack([e.xs, e.cy + 0.12 * e.h * e.sin + e.tilt * 0.5], 1)
    c.cv.stroke(X.head(arc), lw + 1)
    flick = [[e.xs[-1], e.cy + e.tilt[-1] * 0.5], [e.xs[-1] + e.sg * 0.1, e.cy - 0.06]]
    c.cv.stroke(X.head(flick), lw)


def _draw_open_eye(c: _Ctx, e: _Eye, op: float) -> None:
    """An open (or half-open) eye: sclera, iris, pupil, highlights, lashes, lower lash."""
    hh = e.h * (1.0 if op > 0.75 else 0.55)
    top_c = np.stack([e.xs, e.cy - hh * 0.55 * e.sin ** 0.7 + e.tilt], 1)
    bot_c = np.stack([e.xs, e.cy + hh * 0.45 * e.sin ** 1.3 + e.tilt * 0.3], 1)
    sclera = c.X.head(np.concatenate([top_c, bot_c[::-1]]))
    lid_shadow = (c.pid("eye_white_" + e.side, TONE_SHADOW), sclera + c.X.vec([0, 0.2 * hh]),
                  True, BLUE)
    c.cv.shape(sclera, c.pid("eye_white_" + e.side), c.li, tones=[lid_shadow])
    _draw_iris(c, e, hh)
    _draw_lash(c, e, hh)
    if c.s > 25:
        lo = np.stack([e.xs[5:12], bot_c[5:12, 1] + 0.02], 1)
        c.cv.stroke(c.X.head(lo), 1)


def _draw_iris(c: _Ctx, e: _Eye, hh: float) -> None:
    """Iris (shadow, highlight), pupil and catch-lights, clipped to the eye white."""
    spec, pose, X, li, side = c.spec, c.pose, c.X, c.li, e.side
    icx, icy = e.cx + pose.look * e.w * 0.35 * (1 if not pose.flip else -1), e.cy + 0.04 * hh
    rx = spec.iris_r * e.w
    ry = min(0.55 * e.h, rx * 1.55)
    iris = X.head(ellipse(icx, icy, rx, ry, n=24))
    eclip = c.ids("eye_white_" + side)
    iris_shadow = (c.pid("iris_" + side, TONE_SHADOW), iris + X.vec([0, 0.42 * ry]), True, BLUE)
    iris_hl = (c.pid("iris_" + side, TONE_HIGHLIGHT),
               X.head(ellipse(icx, icy + 0.62 * ry, 0.62 * rx, 0.36 * ry, n=16)), False, RED)
    c.cv.shape(iris, c.pid("iris_" + side), li, clip=eclip, tones=[iris_shadow, iris_hl])
    iclip = c.ids("iris_" + side)
    pupil = X.head(ellipse(icx, icy + 0.05 * ry, 0.42 * rx, 0.5 * ry, n=16))
    c.cv.shape(pupil, c.pid("pupil_" + side), li, clip=iclip)
    hclip = c.ids("eye_white_" + side, "iris_" + side, "pupil_" + side)
    hls = [(-0.35, -0.38, 0.3), (0.4, 0.42, 0.14), (0.45, -0.1, 0.09)][:spec.n_highlights]
    for hx, hy, hr in hls:
        r = max(hr * rx, 1.6 / c.s)
        c.cv.shape(X.head(ellipse(icx + hx * rx, icy + hy * ry, r, r * 1.15, n=12)),
                   c.pid("eye_hl_" + side), 1, clip=hclip,
                   outline_code=RED if spec.hl_outline_color else 0)


def _draw_lash(c: _Ctx, e: _Eye, hh: float) -> None:
    """Upper lash band with a wing at the outer corner."""
    cx, cy, w, sg = e.cx, e.cy, e.w, e.sg
    tt = np.linspace(-0.04, 1.06, 16)
    lx = cx + sg * w * (2 * tt - 1)
    ls = np.sin(np.pi * np.clip(tt, 0, 1)) ** 0.7
    lt = -0.06 * (2 * tt - 1)
    upper = np.stack([lx, cy - hh * 0.55 * ls + lt - 0.05 - 0.06 * tt], 1)
    lower = np.stack([lx, cy - hh * 0.55 * ls + lt + 0.025], 1)
    wing = [[cx + sg * (w + 0.12), cy - 0.12 + e.tilt[-1]]]
    lash = c.X.head(np.concatenate([upper, wing, lower[::-1]]))
    c.cv.shape(lash, c.pid("lash_" + e.side), c.li)


def _draw_brow(c: _Ctx, e: _Eye) -> None:
    """Eyebrow above one eye."""
    cx, cy, w, h, sg = e.cx, e.cy, e.w, e.h, e.sg
    bt = np.linspace(0, 1, 9)
    bxs = cx + sg * w * 1.1 * (2 * bt - 1)
    by = cy - 0.55 * h - 0.2 - 0.08 * np.sin(np.pi * bt) - 0.04 * (2 * bt - 1)
    upper = np.stack([bxs, by - 0.035], 1)
    lower = np.stack([bxs, by + 0.035 + 0.02 * np.sin(np.pi * bt)], 1)
    brow = c.X.head(np.concatenate([upper, lower[::-1]]))
    c.cv.shape(brow, c.pid("brow_" + e.side), 1)


def _draw_blush(c: _Ctx) -> None:
    """Blush hatching on both cheeks (if any, and large enough)."""
    yaw = c.yaw
    if c.spec.blush and c.s > 30:
        for sg in (-1, 1):
            bxc = sg * 0.55 * (1 - 0.2 * yaw * sg) + 0.35 * yaw
            for j in range(3):
                x0 = bxc - 0.12 + 0.1 * j
                c.cv.stroke(c.X.head([[x0 + 0.05, 0.6], [x0 - 0.02, 0.72]]), 1)


def _draw_glasses(c: _Ctx) -> None:
    """Glasses: two rims (the far one hidden when turned) and the bridge."""
    spec, X, yaw, li = c.spec, c.X, c.yaw, c.li
    if spec.glasses:
        for sg in (-1, 1):
            if yaw * sg > 0.75:
                continue
            cx = sg * spec.eye_dx * (1 - 0.35 * yaw * sg) + 0.42 * yaw
            w = spec.eye_w * (1 - 0.6 * max(0.0, yaw * sg)) + 0.1
            ring = X.head(ellipse(cx, spec.eye_y + 0.02, w, 0.3, n=24))
            c.cv.stroke(ring, max(li, 2), closed=True)
        c.cv.stroke(X.head([[0.42 * yaw - 0.12, spec.eye_y - 0.05], [0.42 * yaw, spec.eye_y - 0.1],
                            [0.42 * yaw + 0.12, spec.eye_y - 0.05]]), max(li, 2))


# ----------------------------------------------------------------------------------- front hair
def _draw_front_hair(c: _Ctx, hair: _Hair) -> None:
    """Bangs with a zigzag highlight band, a shadow and strand strokes."""
    X = c.X
    band_x = np.linspace(-1.35, 1.35, 15)
    zz = np.where(np.arange(15) % 2 == 0, 1.0, -1.0)
    band = np.concatenate([np.stack([band_x, -0.68 + 0.03 * zz], 1),
                           np.stack([band_x, -0.5 + 0.08 * zz], 1)[::-1]])
    band_img = X.head(c.warp(band))
    c.cv.shape(hair.bang_img, c.pid("hair_front"), c.lw,
               tones=[(c.pid("hair_front", TONE_HIGHLIGHT), band_img, False, RED),
                      c.shade("hair_front", hair.bang_img, 0.1)])
    if c.spec.open_strokes:
        gaps = hair.gaps
        for i in range(1, len(gaps) - 1):
            vy = -0.28 + 0.07 * math.sin(3.1 * i + 1.0)
            g = gaps[i]
            strand = [[g, vy], [g * 0.9, vy - 0.25], [g * 0.75, vy - 0.42]]
            c.cv.stroke(X.head(c.warp(strand)), c.li)


def _draw_side_locks(c: _Ctx) -> None:
    """Side locks framing the face (if any) with a strand stroke when long."""
    spec = c.spec
    if spec.side_locks > 0:
        Ls = spec.side_locks
        for sg, name in ((-1, "lock_l"), (1, "lock_r")):
            lk = np.array([[0.75, -0.2], [1.1, -0.05], [1.14, 0.3 + Ls * 0.5], [1.02, 0.3 + Ls],
                           [0.88, 0.3 + Ls * 0.55], [0.8, 0.4]]) * [sg * spec.head_w, 1]
            lki = c.X.head(c.warp(lk, 0.15))
            c.cv.shape(lki, c.pid(name), c.lw, tones=[c.shade(name, lki, 0.08)])
            if spec.open_strokes and Ls > 1.2:
                st = np.array([[0.95, 0.1], [0.98, 0.3 + Ls * 0.6]]) * [sg * spec.head_w, 1]
                c.cv.stroke(c.X.head(c.warp(st, 0.15)), c.li)


def _draw_ahoge(c: _Ctx) -> None:
    """A single upright strand on top of the head (if any)."""
    if c.spec.ahoge:
        ah = c.X.head(c.warp([[-0.06, -1.1], [0.0, -1.45], [0.3, -1.62], [0.12, -1.42],
                              [0.1, -1.12]]))
        c.cv.shape(ah, c.pid("ahoge"), c.li)


def _draw_hair_accessory(c: _Ctx) -> None:
    """Bow with a knot (bow == 1) or a hair clip (bow == 2) on the bow side."""
    spec, X, li = c.spec, c.X, c.li
    if spec.bow == 1:
        cc = np.array([spec.bow_side * 0.72, -0.78])
        for sg in (-1, 1):
            wg = X.head(c.warp(cc + np.array([[0, 0], [sg * 0.38, -0.24], [sg * 0.4, 0.22]])))
            c.cv.shape(wg, c.pid("bow"), li, tones=[c.shade("bow", wg, 0.08)])
        c.cv.shape(X.head(c.warp(ellipse(cc[0], cc[1], 0.1, 0.11, n=12))), c.pid("bow_knot"), li)
    elif spec.bow == 2:
        cc = np.array([spec.bow_side * 0.55, -0.35])
        cl = X.head(c.warp(ellipse(cc[0], cc[1], 0.22, 0.06, ang=0.5 * spec.bow_side, n=12)))
        c.cv.shape(cl, c.pid("clip"), li)


def _draw_hat(c: _Ctx) -> None:
    """Hat: tilted beret (hat == 1) or cap with a brim (hat == 2)."""
    if c.spec.hat == 1:
        _draw_beret(c)
    elif c.spec.hat == 2:
        _draw_cap(c)


def _draw_beret(c: _Ctx) -> None:
    """Tilted beret with a highlight and a stalk."""
    spec, X, warp = c.spec, c.X, c.warp
    b = X.head(warp(ellipse(0.2 * spec.bow_side, -0.92, 1.38, 0.55, ang=0.12 * spec.bow_side,
                            n=32), 0.2))
    hl = (c.pid("hat", TONE_HIGHLIGHT), X.head(warp(ellipse(-0.3, -1.15, 0.45, 0.12, n=16), 0.2)),
          False, RED)
    c.cv.shape(b, c.pid("hat"), c.lw, tones=[c.shade("hat", b, 0.12), hl])
    c.cv.shape(X.head(warp(ellipse(0.1, -1.52, 0.09, 0.07, n=10), 0.2)), c.pid("hat_band"), c.li)


def _draw_cap(c: _Ctx) -> None:
    """Cap: crown and brim."""
    X, warp = c.X, c.warp
    a3 = np.linspace(math.pi, 2 * math.pi, 20)
    crown = np.concatenate([np.stack([1.15 * np.cos(a3), -0.55 + 0.75 * np.sin(a3)], 1),
                            [[1.15, -0.5], [-1.15, -0.5]]])
    ci = X.head(warp(crown, 0.2))
    c.cv.shape(ci, c.pid("hat"), c.lw, tones=[c.shade("hat", ci, 0.12)])
    arc = np.stack([0.95 * np.cos(a3[::-1] - math.pi), -0.55 + 0.3 * np.sin(a3[::-1] - math.pi)], 1)
    brim = X.head(warp(np.concatenate([[[-1.0, -0.55], [1.0, -0.55]], arc[1:-1]]), 0.35))
    c.cv.shape(brim, c.pid("hat_band"), c.lw, tones=[c.shade("hat_band", brim, 0.06)])


# ---------------------------------------------------------------------------------------- props
def _draw_prop(ctx: _Ctx, kind: int, hc: np.ndarray, d: np.ndarray) -> None:
    """A held object centered near the hand (drawn before the hand so fingers overlap it)."""
    nrm = np.array([-d[1], d[0]])
    c = hc + 0.1 * d
    if kind == 1:
        _draw_book(ctx, c, d, nrm)
    elif kind == 2:
        _draw_ball(ctx, c, d, nrm)
    else:
        _draw_cup(ctx, c)


def _draw_book(ctx: _Ctx, c: np.ndarray, d: np.ndarray, nrm: np.ndarray) -> None:
    """Book held at c: cover with a page edge."""
    X = ctx.X
    a, b = 0.75 * nrm, 0.55 * d
    cover = X.body([c - a - b, c + a - b, c + a + b, c - a + b])
    ctx.cv.shape(cover, ctx.pid("prop"), ctx.lw, tones=[ctx.shade("prop", cover, 0.1)])
    pages = X.body([c - a * 0.9 + b * 0.75, c + a * 0.9 + b * 0.75, c + a * 0.9 + b * 0.95,
                    c - a * 0.9 + b * 0.95])
    ctx.cv.shape(pages, ctx.pid("prop_detail"), ctx.li)


def _draw_ball(ctx: _Ctx, c: np.ndarray, d: np.ndarray, nrm: np.ndarray) -> None:
    """Ball held at c with a highlight and a stripe."""
    X = ctx.X
    ball = X.body(ellipse(c[0] + 0.3 * d[0], c[1] + 0.3 * d[1], 0.55, 0.55, n=28))
    hl = X.body(ellipse(c[0] + 0.15 * d[0] - 0.2, c[1] + 0.15 * d[1] - 0.2, 0.18, 0.12, n=12))
    ctx.cv.shape(ball, ctx.pid("prop"), ctx.lw,
                 tones=[(ctx.pid("prop", TONE_HIGHLIGHT), hl, False, RED),
                        ctx.shade("prop", ball, 0.12)])
    stripe = X.body([c + 0.3 * d - 0.55 * nrm, c + 0.45 * d, c + 0.3 * d + 0.55 * nrm])
    ctx.cv.stroke(stripe, ctx.li)


def _draw_cup(ctx: _Ctx, c: np.ndarray) -> None:
    """Upright cup held at c with a liquid top."""
    X = ctx.X
    up = np.array([0.0, -1.0])
    side = np.array([1.0, 0.0])
    cup = X.body([c - 0.3 * side + 0.25 * up, c + 0.3 * side + 0.25 * up,
                  c + 0.24 * side - 0.35 * up, c - 0.24 * side - 0.35 * up])
    ctx.cv.shape(cup, ctx.pid("prop"), ctx.lw, tones=[ctx.shade("prop", cup, 0.08)])
    top = X.body(ellipse(c[0], c[1] - 0.25, 0.26, 0.07, n=16))
    ctx.cv.shape(top, ctx.pid("prop_detail"), ctx.li)
