"""Draw one posed character onto a Canvas (back to front)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .canvas import BLUE, GREEN, RED, Canvas
from .character import (TONE_BASE, TONE_DEEP, TONE_HIGHLIGHT, TONE_SHADOW, CharacterSpec, Pose,
                        part_id)

_HEAD_OFFSET = np.array([0.0, -1.52])


def ellipse(cx, cy, rx, ry, ang=0.0, n=28) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(ang), math.sin(ang)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def capsule(p0, p1, r0, r1, n=12) -> np.ndarray:
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
    def __init__(self, pose: Pose, H: int, W: int):
        self.s = pose.scale * min(H, W)
        c, si = math.cos(pose.roll), math.sin(pose.roll)
        fx = -1.0 if pose.flip else 1.0
        self.A = self.s * np.array([[c, -si], [si, c]]) @ np.diag([fx, 1.0])
        self.b = np.array([pose.x * W, pose.y * H])
        ct, st = math.cos(pose.head_tilt), math.sin(pose.head_tilt)
        self.Rh = np.array([[ct, -st], [st, ct]])

    def body(self, pts) -> np.ndarray:
        return np.asarray(pts, np.float64) @ self.A.T + self.b

    def head(self, pts) -> np.ndarray:
        q = (np.asarray(pts, np.float64) + _HEAD_OFFSET) @ self.Rh.T
        return self.body(q)

    def vec(self, v) -> np.ndarray:
        return np.asarray(v, np.float64) @ self.A.T


def draw_character(cv: Canvas, spec: CharacterSpec, pose: Pose, slot: int) -> None:
    X = _Xf(pose, cv.h, cv.w)
    s = X.s
    lw = int(np.clip(round(s * spec.line_k), 1, 4))
    li = max(1, lw - 1)
    light = np.array([math.cos(pose.light), math.sin(pose.light)])
    yaw = float(pose.yaw)

    def pid(name, tone=TONE_BASE):
        return part_id(slot, name, tone)

    def ids(*names):
        return [part_id(slot, n, t) for n in names for t in range(4)]

    def shade(name, pts, k=0.14, tone=TONE_SHADOW, code=BLUE):
        return (pid(name, tone), pts + light * k * s, True, code)

    def warp(pts, amt=0.38):  # yaw: features shift toward the turn, far side compresses
        p = np.array(pts, np.float64)
        x = p[:, 0]
        p[:, 0] = x * (1 - 0.2 * yaw * np.sign(x)) + amt * yaw * np.clip(1 - (x / 1.3) ** 2, 0, 1)
        return p

    def bw(pts):  # body twist for the front of the torso (collar, tie, buttons)
        p = np.array(pts, np.float64)
        p[:, 0] += 0.25 * yaw * np.clip(1 - (p[:, 0] / 1.6) ** 2, 0, 1)
        return X.body(p)

    # ------------------------------------------------------------------ hair geometry
    hw = spec.hair_width
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
    bang_h = warp(np.concatenate([np.asarray(b, np.float64) for b in bang]))
    bang_img = X.head(bang_h)

    # ------------------------------------------------------------------ back hair
    yb = spec.hair_len + 0.2
    nt = spec.back_tips
    back = [cap * [hw / 1.12, 1.02]]
    back.append([[hw * 1.02, 0.4], [hw * 1.08, (yb + 0.4) / 2]])
    bx = np.linspace(hw * 1.1, -hw * 1.1, 2 * nt + 1)
    for i, x in enumerate(bx):
        jit = 0.1 * math.sin(2.3 * i + spec.hair_len)
        back.append([[x, yb + (0.3 + jit if i % 2 else -0.15 + jit)]])
    back.append([[-hw * 1.08, (yb + 0.4) / 2], [-hw * 1.02, 0.4]])
    back_img = X.head(warp(np.concatenate([np.asarray(b, np.float64) for b in back]), 0.1))
    inner = X.head(ellipse(0.3 * yaw, 0.6 + yb / 2, 0.72, max(yb / 2, 0.5), n=20))
    cv.shape(back_img, pid("hair_back"), lw, tones=[(pid("hair_back", TONE_DEEP), inner, False, GREEN),
                                                    shade("hair_back", back_img, 0.12)])
    if spec.open_strokes and yb > 1.2:  # strands on the back hair
        for sg in (-1, 1):
            for j, fx in enumerate((0.92, 0.8)):
                x0 = sg * hw * fx
                cv.stroke(X.head(warp([[x0, 0.2 + 0.3 * j], [x0 * 1.03, 0.3 + (yb - 0.3) * (0.55 + 0.15 * j)]], 0.1)),
                          li)
    if spec.ponytail > 0:
        L = spec.ponytail
        sgp = spec.bow_side
        pt = np.array([[0.5, -1.0], [1.05, -1.05], [1.55, -0.4], [1.7, L * 0.5], [1.35, L],
                       [1.2, L * 0.45], [0.95, -0.45]]) * [sgp, 1]
        pti = X.head(warp(pt, 0.1))
        cv.shape(pti, pid("ponytail"), lw, tones=[shade("ponytail", pti, 0.16)])
    if spec.tails > 0:
        L = spec.tails
        for sg, name in ((-1, "tail_l"), (1, "tail_r")):
            t = np.array([[0.8, -0.75], [1.5, -0.55], [1.95, L * 0.45], [1.55, L], [1.25, L * 0.5],
                          [0.95, -0.1]]) * [sg, 1]
            ti = X.head(warp(t, 0.1))
            cv.shape(ti, pid(name), lw, tones=[shade(name, ti, 0.16)])

    # ------------------------------------------------------------------ legs
    tw = spec.torso_w
    for sg, leg, shoe in ((-1, "leg_l", "shoe_l"), (1, "leg_r", "shoe_r")):
        hip = np.array([sg * 0.45, 3.0])
        ank = np.array([sg * (0.42 + pose.legs * 3.0), 7.6])
        lp = X.body(capsule(hip, ank, 0.45, 0.32) if spec.pants else capsule(hip, ank, 0.4, 0.2))
        cv.shape(lp, pid(leg), lw, tones=[shade(leg, lp, 0.12)])
        sp = X.body(ellipse(ank[0] + sg * 0.12, ank[1] + 0.2, 0.36, 0.2))
        cv.shape(sp, pid(shoe), lw, tones=[(pid(shoe, TONE_HIGHLIGHT),
                                            X.body(ellipse(ank[0] + sg * 0.1, ank[1] + 0.08, 0.16, 0.06)),
                                            False, RED)])

    # ------------------------------------------------------------------ neck and face shape
    face_h = [[0.0, -1.2]]
    a2 = np.linspace(-math.pi / 2, 0.0, 8)
    top = np.stack([spec.head_w * np.cos(a2), -0.05 + 1.0 * np.sin(a2)], 1)
    cheek = np.array([[0.99, 0.22], [0.94, 0.45], [0.82, 0.66], [0.62, 0.84], [0.34, 0.98]])
    cheek[:, 1] *= spec.chin
    face_r = np.concatenate([top, cheek * [spec.head_w, 1], [[0.0, spec.chin]]])
    face_h = _mirror(face_r[::-1])  # right half from chin to top, then left half
    face_h = warp(chaikin(face_h, 2), 0.16)
    face_img = X.head(face_h)
    neck = X.body([[-0.26, -1.0], [0.26, -1.0], [0.3, 0.3], [-0.3, 0.3]])
    cv.shape(neck, pid("neck"), lw, tones=[(pid("neck", TONE_SHADOW), face_img + X.vec([0, 0.28]),
                                            False, BLUE)])

    # ------------------------------------------------------------------ torso and clothes
    hem = 3.15 if spec.outfit != "dress" else 2.6
    torso = bw(_mirror([[0.33, -0.1], [tw, 0.22], [tw + 0.05, 0.7], [tw - 0.1, 1.4],
                            [tw - 0.3, 2.5], [tw - 0.18, hem]])[::-1])
    if spec.outfit == "sailor":
        collar_h = [[-0.42, -0.15], [-1.05, 0.25], [-0.95, 0.8], [0.0, 1.3], [0.95, 0.8],
                    [1.05, 0.25], [0.42, -0.15], [0.28, -0.05], [0.0, 1.0], [-0.28, -0.05]]
        tie_y = 1.05
    elif spec.outfit == "shirt":
        collar_h = [[-0.36, -0.14], [-0.02, 0.4], [-0.6, 0.35], [-0.45, -0.05]]
        tie_y = 0.32
    elif spec.outfit == "jacket":
        collar_h = [[-0.38, -0.12], [-0.7, 0.35], [-0.35, 1.5], [-0.22, 1.5], [-0.25, 0.05]]
        tie_y = 0.3
    else:
        collar_h = [[-0.36, -0.12], [-0.62, 0.18], [-0.42, 0.45], [0.0, 0.25], [0.42, 0.45],
                    [0.62, 0.18], [0.36, -0.12]]
        tie_y = 0.3
    collar = bw(collar_h)
    cv.shape(torso, pid("torso"), lw, tones=[shade("torso", torso, 0.3),
                                             (pid("torso", TONE_SHADOW), collar + X.vec([0, 0.22]),
                                              False, BLUE)])
    if spec.open_strokes:
        for sg in (-1, 1):
            cv.stroke(bw([[sg * (tw - 0.1), 1.3], [sg * (tw - 0.45), 1.55], [sg * (tw - 0.6), 1.6]]), li)
            cv.stroke(bw([[sg * (tw - 0.3), 2.3], [sg * (tw - 0.6), 2.45]]), li)
    if spec.outfit in ("sailor", "jacket"):
        w0 = 0.3 if spec.outfit == "sailor" else 0.25
        bot = 1.0 if spec.outfit == "sailor" else hem
        inner_p = bw([[-w0, -0.08], [w0, -0.08], [0.4 if bot > 2 else 0.0, bot],
                          [-0.4 if bot > 2 else 0.0, bot]])
        cv.shape(inner_p, pid("inner"), li, tones=[shade("inner", inner_p, 0.2)])
    if spec.outfit == "shirt":
        for sg in (-1, 1):
            cp = bw(np.array(collar_h) * [sg, 1])
            cv.shape(cp, pid("collar"), li, tones=[shade("collar", cp, 0.1)])
    elif spec.outfit == "jacket":
        for sg in (-1, 1):
            cp = bw(np.array(collar_h) * [sg, 1])
            cv.shape(cp, pid("collar"), li)
    else:
        cv.shape(collar, pid("collar"), lw, tones=[shade("collar", collar, 0.12)])
        if spec.outfit == "sailor" and spec.open_strokes:
            stripe = np.array(collar_h[1:6]) * [0.86, 0.93] + [0, -0.02]
            cv.stroke(bw(stripe), li)
    if spec.tie == 1:
        for sg in (-1, 1):
            wing = bw([[0, tie_y], [sg * 0.5, tie_y - 0.25], [sg * 0.55, tie_y + 0.2]])
            cv.shape(wing, pid("tie"), li, tones=[shade("tie", wing, 0.1)])
            tail = bw([[sg * 0.05, tie_y], [sg * 0.3, tie_y + 0.75], [sg * 0.12, tie_y + 0.7]])
            cv.shape(tail, pid("tie"), li)
        cv.shape(bw(ellipse(0, tie_y, 0.12, 0.13, n=12)), pid("tie_knot"), li)
    elif spec.tie == 2:
        tie = bw([[0, tie_y + 0.1], [0.15, tie_y + 0.4], [0.0, tie_y + 1.7], [-0.15, tie_y + 0.4]])
        cv.shape(tie, pid("tie"), li, tones=[shade("tie", tie, 0.08)])
        cv.shape(bw([[-0.11, tie_y - 0.05], [0.11, tie_y - 0.05], [0.07, tie_y + 0.14],
                         [-0.07, tie_y + 0.14]]), pid("tie_knot"), li)
    bx0 = 0.0 if spec.outfit != "jacket" else -0.55
    for i in range(spec.n_buttons):
        by = 1.5 + i * (hem - 1.7) / max(spec.n_buttons, 1)
        cv.shape(bw(ellipse(bx0, by, 0.07, 0.07, n=12)), pid("button"), li)
    # skirt / shorts
    top_y = 2.55
    if spec.skirt or spec.outfit == "dress":
        sl = spec.skirt_len + (0.4 if spec.outfit == "dress" else 0)
        fl = 0.35 + 0.12 * sl
        skirt = X.body(_mirror([[tw - 0.28, top_y], [tw - 0.28 + fl, top_y + sl]])[::-1])
        tones = [shade("skirt", skirt, 0.2)]
        xs_top = np.linspace(-(tw - 0.28), tw - 0.28, spec.pleats + 2)[1:-1]
        xs_bot = xs_top * (tw - 0.28 + fl) / (tw - 0.28)
        for i, (xt, xb) in enumerate(zip(xs_top, xs_bot)):
            if i % 2 == 0:
                tones.append((pid("skirt", TONE_SHADOW), X.body([[xt, top_y], [xb, top_y + sl],
                                                                 [xb + 0.22, top_y + sl]]), False, BLUE))
        cv.shape(skirt, pid("skirt"), lw, tones=tones)
        if spec.open_strokes:
            for xt, xb in zip(xs_top, xs_bot):
                cv.stroke(X.body([[xt, top_y], [xb, top_y + sl * 0.8]]), li)
    elif spec.pants:
        hips = X.body([[-(tw - 0.28), top_y], [tw - 0.28, top_y], [tw - 0.2, top_y + 0.9],
                       [0.15, top_y + 1.0], [0.0, top_y + 0.75], [-0.15, top_y + 1.0],
                       [-(tw - 0.2), top_y + 0.9]])
        cv.shape(hips, pid("skirt"), lw, tones=[shade("skirt", hips, 0.15)])
    else:
        shorts = X.body([[-(tw - 0.28), top_y], [tw - 0.28, top_y], [tw - 0.1, top_y + 1.3],
                         [0.1, top_y + 1.3], [0.0, top_y + 0.8], [-0.1, top_y + 1.3],
                         [-(tw - 0.1), top_y + 1.3]])
        cv.shape(shorts, pid("skirt"), lw, tones=[shade("skirt", shorts, 0.18)])
    if spec.belt:
        belt = X.body([[-(tw - 0.3), top_y - 0.12], [tw - 0.3, top_y - 0.12], [tw - 0.28, top_y + 0.12],
                       [-(tw - 0.28), top_y + 0.12]])
        cv.shape(belt, pid("belt"), li, tones=[(pid("belt", TONE_HIGHLIGHT), belt + X.vec([0, 0.12]),
                                                True, RED)])

    # ------------------------------------------------------------------ arms
    for k, (sg, side) in enumerate(((-1, "l"), (1, "r"))):
        au, af = float(pose.arms[2 * k]), float(pose.arms[2 * k + 1])
        S = np.array([sg * (tw - 0.22), 0.4])
        d1 = np.array([sg * math.sin(au), math.cos(au)])
        E = S + 1.6 * d1
        th = sg * af
        d2 = np.array([d1[0] * math.cos(th) - d1[1] * math.sin(th),
                       d1[0] * math.sin(th) + d1[1] * math.cos(th)])
        Wr = E + 1.45 * d2
        ua = X.body(capsule(S, E, 0.32, 0.26))
        cv.shape(ua, pid("upper_arm_" + side), lw, tones=[shade("upper_arm_" + side, ua, 0.1)])
        sl_end = S + (0.85 if not spec.long_sleeves else 1.2) * d1
        sv = X.body(capsule(S, sl_end, 0.4, 0.37))
        cv.shape(sv, pid("sleeve_" + side), lw, tones=[shade("sleeve_" + side, sv, 0.12)])
        fa = X.body(capsule(E, Wr, 0.26 if spec.long_sleeves else 0.24, 0.19))
        cv.shape(fa, pid("forearm_" + side), lw, tones=[shade("forearm_" + side, fa, 0.1)])
        if spec.long_sleeves:
            cf = X.body(capsule(Wr - 0.3 * d2, Wr - 0.05 * d2, 0.25, 0.25))
            cv.shape(cf, pid("cuff_" + side), li)
        hc = Wr + 0.28 * d2
        ang = math.atan2(d2[1], d2[0])
        thumb = X.body(ellipse(*(Wr + 0.15 * d2 - sg * 0.16 * np.array([-d2[1], d2[0]])), 0.16, 0.08,
                               ang + 0.6 * sg, n=12))
        if spec.prop and k == spec.prop_hand:
            _draw_prop(cv, X, spec.prop, hc, d2, pid, shade, li, lw)
        cv.shape(thumb, pid("hand_" + side), li)
        hand = X.body(ellipse(hc[0], hc[1], 0.3, 0.21, ang, n=18))
        cv.shape(hand, pid("hand_" + side), li, tones=[shade("hand_" + side, hand, 0.08)])
        if spec.open_strokes and s > 30:
            f0 = hc + 0.05 * d2
            nrm = np.array([-d2[1], d2[0]])
            for o in (-0.07, 0.07):
                cv.stroke(X.body([f0 + o * nrm, f0 + 0.22 * d2 + o * nrm]), 1)

    # ------------------------------------------------------------------ ears and face
    for sg, name in ((-1, "ear_l"), (1, "ear_r")):
        if yaw * sg > 0.35:
            continue
        ex = sg * 0.97 * spec.head_w * (1 - 0.16 * yaw * sg)
        ep = X.head(ellipse(ex, 0.22, 0.16, 0.27, n=16))
        cv.shape(ep, pid(name), lw, tones=[shade(name, ep, 0.06)])
        if s > 40:
            cv.stroke(X.head([[ex - sg * 0.02, 0.1], [ex + sg * 0.05, 0.22], [ex, 0.33]]), 1)
    cv.shape(face_img, pid("face"), lw,
             tones=[(pid("face", TONE_SHADOW), bang_img + X.vec([0, 0.16]), False, BLUE),
                    shade("face", face_img, 0.07)])
    fcx = 0.42 * yaw
    if spec.open_strokes:  # nose
        cv.stroke(X.head([[fcx + 0.02 + 0.05 * yaw, 0.6], [fcx + 0.05 * yaw, 0.68]]), li)
    my = 0.82 + 0.06 * (spec.chin - 1.0)
    if pose.mouth == 0:
        cv.stroke(X.head([[fcx - 0.11, my], [fcx, my + 0.02], [fcx + 0.11, my - 0.005]]), li)
    else:
        mw, mh = (0.1, 0.07) if pose.mouth == 1 else (0.16, 0.15)
        mouth = X.head([[fcx - mw, my - 0.01], [fcx + mw, my - 0.01], [fcx + mw * 0.6, my + mh * 0.8],
                        [fcx, my + mh], [fcx - mw * 0.6, my + mh * 0.8]])
        cv.shape(mouth, pid("mouth"), li)
        if pose.mouth == 2:
            tg = X.head(ellipse(fcx + 0.02, my + mh * 0.95, mw * 0.55, mh * 0.45, n=14))
            cv.shape(tg, pid("tongue"), li, clip=ids("mouth"))

    # ------------------------------------------------------------------ eyes and brows
    op = float(np.clip(pose.eye_open, 0, 1))
    for sg, side in ((-1, "l"), (1, "r")):
        far = max(0.0, yaw * sg)
        comp = 1 - 0.6 * far + 0.1 * max(0.0, -yaw * sg)
        if comp < 0.55:
            continue
        cx = sg * spec.eye_dx * (1 - 0.35 * yaw * sg) + 0.42 * yaw
        cy = spec.eye_y
        w, h = spec.eye_w * comp, spec.eye_h
        t = np.linspace(0, 1, 14)
        xs = cx + sg * w * (2 * t - 1)  # inner -> outer corner
        sin = np.sin(np.pi * t)
        tilt = -0.06 * (2 * t - 1)  # outer corner a bit higher
        if op < 0.25:
            arc = np.stack([xs, cy + 0.12 * h * sin + tilt * 0.5], 1)
            cv.stroke(X.head(arc), lw + 1)
            cv.stroke(X.head([[xs[-1], cy + tilt[-1] * 0.5], [xs[-1] + sg * 0.1, cy - 0.06]]), lw)
        else:
            hh = h * (1.0 if op > 0.75 else 0.55)
            top_c = np.stack([xs, cy - hh * 0.55 * sin ** 0.7 + tilt], 1)
            bot_c = np.stack([xs, cy + hh * 0.45 * sin ** 1.3 + tilt * 0.3], 1)
            sclera = X.head(np.concatenate([top_c, bot_c[::-1]]))
            cv.shape(sclera, pid("eye_white_" + side), li,
                     tones=[(pid("eye_white_" + side, TONE_SHADOW), sclera + X.vec([0, 0.2 * hh]), True, BLUE)])
            icx, icy = cx + pose.look * w * 0.35 * (1 if not pose.flip else -1), cy + 0.04 * hh
            rx = spec.iris_r * w
            ry = min(0.55 * h, rx * 1.55)
            iris = X.head(ellipse(icx, icy, rx, ry, n=24))
            eclip = ids("eye_white_" + side)
            cv.shape(iris, pid("iris_" + side), li, clip=eclip,
                     tones=[(pid("iris_" + side, TONE_SHADOW), iris + X.vec([0, 0.42 * ry]), True, BLUE),
                            (pid("iris_" + side, TONE_HIGHLIGHT),
                             X.head(ellipse(icx, icy + 0.62 * ry, 0.62 * rx, 0.36 * ry, n=16)), False, RED)])
            iclip = ids("iris_" + side)
            cv.shape(X.head(ellipse(icx, icy + 0.05 * ry, 0.42 * rx, 0.5 * ry, n=16)), pid("pupil_" + side),
                     li, clip=iclip)
            hclip = ids("eye_white_" + side, "iris_" + side, "pupil_" + side)
            hls = [(-0.35, -0.38, 0.3), (0.4, 0.42, 0.14), (0.45, -0.1, 0.09)][:spec.n_highlights]
            for hx, hy, hr in hls:
                r = max(hr * rx, 1.6 / s)
                cv.shape(X.head(ellipse(icx + hx * rx, icy + hy * ry, r, r * 1.15, n=12)),
                         pid("eye_hl_" + side), 1, clip=hclip, outline_code=RED if spec.hl_outline_color else 0)
            # upper lash band with a wing at the outer corner
            tt = np.linspace(-0.04, 1.06, 16)
            lx = cx + sg * w * (2 * tt - 1)
            ls = np.sin(np.pi * np.clip(tt, 0, 1)) ** 0.7
            lt = -0.06 * (2 * tt - 1)
            upper = np.stack([lx, cy - hh * 0.55 * ls + lt - 0.05 - 0.06 * tt], 1)
            lower = np.stack([lx, cy - hh * 0.55 * ls + lt + 0.025], 1)
            wing = [[cx + sg * (w + 0.12), cy - 0.12 + tilt[-1]]]
            lash = X.head(np.concatenate([upper, wing, lower[::-1]]))
            cv.shape(lash, pid("lash_" + side), li)
            if s > 25:
                lo = np.stack([xs[5:12], bot_c[5:12, 1] + 0.02], 1)
                cv.stroke(X.head(lo), 1)
        # brow
        bt = np.linspace(0, 1, 9)
        bxs = cx + sg * w * 1.1 * (2 * bt - 1)
        by = cy - 0.55 * h - 0.2 - 0.08 * np.sin(np.pi * bt) - 0.04 * (2 * bt - 1)
        brow = X.head(np.concatenate([np.stack([bxs, by - 0.035], 1),
                                      np.stack([bxs, by + 0.035 + 0.02 * np.sin(np.pi * bt)], 1)[::-1]]))
        cv.shape(brow, pid("brow_" + side), 1)

    if spec.blush and s > 30:
        for sg in (-1, 1):
            bxc = sg * 0.55 * (1 - 0.2 * yaw * sg) + 0.35 * yaw
            for j in range(3):
                x0 = bxc - 0.12 + 0.1 * j
                cv.stroke(X.head([[x0 + 0.05, 0.6], [x0 - 0.02, 0.72]]), 1)
    if spec.glasses:
        for sg in (-1, 1):
            if yaw * sg > 0.75:
                continue
            cx = sg * spec.eye_dx * (1 - 0.35 * yaw * sg) + 0.42 * yaw
            w = spec.eye_w * (1 - 0.6 * max(0.0, yaw * sg)) + 0.1
            ring = X.head(ellipse(cx, spec.eye_y + 0.02, w, 0.3, n=24))
            cv.stroke(ring, max(li, 2), closed=True)
        cv.stroke(X.head([[0.42 * yaw - 0.12, spec.eye_y - 0.05], [0.42 * yaw, spec.eye_y - 0.1],
                          [0.42 * yaw + 0.12, spec.eye_y - 0.05]]), max(li, 2))

    # ------------------------------------------------------------------ front hair
    band_x = np.linspace(-1.35, 1.35, 15)
    zz = np.where(np.arange(15) % 2 == 0, 1.0, -1.0)
    band = np.concatenate([np.stack([band_x, -0.68 + 0.03 * zz], 1),
                           np.stack([band_x, -0.5 + 0.08 * zz], 1)[::-1]])
    band_img = X.head(warp(band))
    cv.shape(bang_img, pid("hair_front"), lw,
             tones=[(pid("hair_front", TONE_HIGHLIGHT), band_img, False, RED),
                    shade("hair_front", bang_img, 0.1)])
    if spec.open_strokes:
        for i in range(1, len(gaps) - 1):
            vy = -0.28 + 0.07 * math.sin(3.1 * i + 1.0)
            g = gaps[i]
            cv.stroke(X.head(warp([[g, vy], [g * 0.9, vy - 0.25], [g * 0.75, vy - 0.42]])), li)
    if spec.side_locks > 0:
        Ls = spec.side_locks
        for sg, name in ((-1, "lock_l"), (1, "lock_r")):
            lk = np.array([[0.75, -0.2], [1.1, -0.05], [1.14, 0.3 + Ls * 0.5], [1.02, 0.3 + Ls],
                           [0.88, 0.3 + Ls * 0.55], [0.8, 0.4]]) * [sg * spec.head_w, 1]
            lki = X.head(warp(lk, 0.15))
            cv.shape(lki, pid(name), lw, tones=[shade(name, lki, 0.08)])
            if spec.open_strokes and Ls > 1.2:
                st = np.array([[0.95, 0.1], [0.98, 0.3 + Ls * 0.6]]) * [sg * spec.head_w, 1]
                cv.stroke(X.head(warp(st, 0.15)), li)
    if spec.ahoge:
        ah = X.head(warp([[-0.06, -1.1], [0.0, -1.45], [0.3, -1.62], [0.12, -1.42], [0.1, -1.12]]))
        cv.shape(ah, pid("ahoge"), li)
    if spec.bow == 1:
        c = np.array([spec.bow_side * 0.72, -0.78])
        for sg in (-1, 1):
            wg = X.head(warp(c + np.array([[0, 0], [sg * 0.38, -0.24], [sg * 0.4, 0.22]])))
            cv.shape(wg, pid("bow"), li, tones=[shade("bow", wg, 0.08)])
        cv.shape(X.head(warp(ellipse(c[0], c[1], 0.1, 0.11, n=12))), pid("bow_knot"), li)
    elif spec.bow == 2:
        c = np.array([spec.bow_side * 0.55, -0.35])
        cl = X.head(warp(ellipse(c[0], c[1], 0.22, 0.06, ang=0.5 * spec.bow_side, n=12)))
        cv.shape(cl, pid("clip"), li)
    if spec.hat == 1:  # beret, tilted
        b = X.head(warp(ellipse(0.2 * spec.bow_side, -0.92, 1.38, 0.55, ang=0.12 * spec.bow_side, n=32), 0.2))
        cv.shape(b, pid("hat"), lw, tones=[shade("hat", b, 0.12),
                                           (pid("hat", TONE_HIGHLIGHT), X.head(warp(ellipse(
                                               -0.3, -1.15, 0.45, 0.12, n=16), 0.2)), False, RED)])
        cv.shape(X.head(warp(ellipse(0.1, -1.52, 0.09, 0.07, n=10), 0.2)), pid("hat_band"), li)
    elif spec.hat == 2:  # cap with a brim
        a3 = np.linspace(math.pi, 2 * math.pi, 20)
        crown = np.concatenate([np.stack([1.15 * np.cos(a3), -0.55 + 0.75 * np.sin(a3)], 1),
                                [[1.15, -0.5], [-1.15, -0.5]]])
        ci = X.head(warp(crown, 0.2))
        cv.shape(ci, pid("hat"), lw, tones=[shade("hat", ci, 0.12)])
        brim = X.head(warp(np.concatenate([[[-1.0, -0.55], [1.0, -0.55]],
                                           np.stack([0.95 * np.cos(a3[::-1] - math.pi),
                                                     -0.55 + 0.3 * np.sin(a3[::-1] - math.pi)], 1)[1:-1]]),
                           0.35))
        cv.shape(brim, pid("hat_band"), lw, tones=[shade("hat_band", brim, 0.06)])


def _draw_prop(cv, X, kind, hc, d, pid, shade, li, lw):
    """A held object centered near the hand (drawn before the hand so fingers overlap it)."""
    nrm = np.array([-d[1], d[0]])
    c = hc + 0.1 * d
    if kind == 1:  # book: cover with a page edge
        a, b = 0.75 * nrm, 0.55 * d
        cover = X.body([c - a - b, c + a - b, c + a + b, c - a + b])
        cv.shape(cover, pid("prop"), lw, tones=[shade("prop", cover, 0.1)])
        pages = X.body([c - a * 0.9 + b * 0.75, c + a * 0.9 + b * 0.75, c + a * 0.9 + b * 0.95,
                        c - a * 0.9 + b * 0.95])
        cv.shape(pages, pid("prop_detail"), li)
    elif kind == 2:  # ball with a stripe highlight
        ball = X.body(ellipse(c[0] + 0.3 * d[0], c[1] + 0.3 * d[1], 0.55, 0.55, n=28))
        cv.shape(ball, pid("prop"), lw, tones=[
            (pid("prop", 2), X.body(ellipse(c[0] + 0.15 * d[0] - 0.2, c[1] + 0.15 * d[1] - 0.2, 0.18, 0.12,
                                            n=12)), False, 1), shade("prop", ball, 0.12)])
        cv.stroke(X.body([c + 0.3 * d - 0.55 * nrm, c + 0.45 * d, c + 0.3 * d + 0.55 * nrm]), li)
    else:  # cup with a liquid top
        up = np.array([0.0, -1.0])
        side = np.array([1.0, 0.0])
        cup = X.body([c - 0.3 * side + 0.25 * up, c + 0.3 * side + 0.25 * up, c + 0.24 * side - 0.35 * up,
                      c - 0.24 * side - 0.35 * up])
        cv.shape(cup, pid("prop"), lw, tones=[shade("prop", cup, 0.08)])
        top = X.body(ellipse(c[0], c[1] - 0.25, 0.26, 0.07, n=16))
        cv.shape(top, pid("prop_detail"), li)
