"""Parametric anime-like characters: color design (palette), shape parameters and poses.

Units: one unit = the head radius. Body coordinates have the neck base at the origin, y down.
Head coordinates have the head center at the origin; the head pivots about the neck base.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

import numpy as np

# (part name, default material). The index of a part in this list is stable and gives its
# part-map id; materials decide colors (several parts may share one material).
PARTS: list[tuple[str, str]] = [
    ("hair_back", "hair"), ("tail_l", "hair"), ("tail_r", "hair"),
    ("leg_l", "legwear"), ("leg_r", "legwear"), ("shoe_l", "shoe"), ("shoe_r", "shoe"),
    ("neck", "skin"), ("torso", "top"), ("inner", "inner"), ("collar", "collar"),
    ("tie", "accent"), ("tie_knot", "accent"), ("button", "button"), ("skirt", "bottom"),
    ("belt", "belt"),
    ("upper_arm_l", "skin"), ("sleeve_l", "top"), ("forearm_l", "skin"), ("cuff_l", "collar"),
    ("hand_l", "skin"),
    ("upper_arm_r", "skin"), ("sleeve_r", "top"), ("forearm_r", "skin"), ("cuff_r", "collar"),
    ("hand_r", "skin"),
    ("ear_l", "skin"), ("ear_r", "skin"), ("face", "skin"),
    ("eye_white_l", "eye_white"), ("iris_l", "iris"), ("pupil_l", "pupil"),
    ("eye_hl_l", "eye_hl"), ("lash_l", "lash"),
    ("eye_white_r", "eye_white"), ("iris_r", "iris"), ("pupil_r", "pupil"),
    ("eye_hl_r", "eye_hl"), ("lash_r", "lash"),
    ("brow_l", "brow"), ("brow_r", "brow"), ("mouth", "mouth"), ("tongue", "tongue"),
    ("hair_front", "hair"), ("lock_l", "hair"), ("lock_r", "hair"), ("ahoge", "hair"),
    ("bow", "hair_acc"), ("bow_knot", "hair_acc"), ("clip", "clip"),
    ("ponytail", "hair"), ("glasses", "glasses"), ("prop", "prop"), ("prop_detail", "prop2"),
    ("hat", "hat"), ("hat_band", "hat_band"),
]
PART_INDEX = {name: i for i, (name, _) in enumerate(PARTS)}
N_TONES = 4  # base, shadow, highlight, deep shadow
TONE_BASE, TONE_SHADOW, TONE_HIGHLIGHT, TONE_DEEP = 0, 1, 2, 3
MAX_SLOTS = 8  # characters per frame


def part_id(slot: int, part: str, tone: int = TONE_BASE) -> int:
    """Stable part-map id of (character slot, part, tone); ids start at 2 (1 = background)."""
    return 2 + (slot * len(PARTS) + PART_INDEX[part]) * N_TONES + tone


def part_of_id(pid: int) -> tuple[int, str, int] | None:
    """Inverse of part_id: (slot, part name, tone), or None for line (0) / background (1)."""
    if pid < 2:
        return None
    k, tone = divmod(pid - 2, N_TONES)
    slot, pi = divmod(k, len(PARTS))
    return slot, PARTS[pi][0], tone


# ---------------------------------------------------------------------------------------
# Colors
# ---------------------------------------------------------------------------------------
_RESERVED = {(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)}


def _hsv(h, s, v) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(float(s), 0.0), 1.0), min(max(float(v), 0.0), 1.0))
    return np.array([round(r * 255), round(g * 255), round(b * 255)], np.int64)


def _tones(h, s, v, rng) -> np.ndarray:
    """(4, 3) uint8: base, shadow, highlight, deep shadow of one material."""
    toward = 0.72  # shadows drift to blue-violet as in cel painting
    dh = ((toward - h + 0.5) % 1.0 - 0.5) * rng.uniform(0.05, 0.15)
    base = _hsv(h, s, v)
    shadow = _hsv(h + dh, s * 1.1 + 0.08, v * rng.uniform(0.72, 0.84))
    hi = _hsv(h - dh * 0.5, s * 0.55, min(1.0, v * 1.1 + 0.12))
    deep = _hsv(h + 2 * dh, s * 1.15 + 0.12, v * rng.uniform(0.52, 0.62))
    return np.stack([base, shadow, hi, deep])


class _ColorPicker:
    def __init__(self, avoid):
        self.used: list[np.ndarray] = [np.array(c, np.int64) for c in _RESERVED]
        for c in avoid or ():
            self.used.append(np.asarray(c, np.int64)[:3])
        self._arr = None

    def ok(self, tones: np.ndarray, min_dist: float = 14.0) -> bool:
        t = np.asarray(tones, np.int64)
        if self._arr is None or len(self._arr) != len(self.used):
            self._arr = np.stack(self.used)
        u = self._arr
        if np.abs(u[None, :, :] - t[:, None, :]).sum(-1).min() < min_dist:
            return False
        d = np.abs(t[None, :, :] - t[:, None, :]).sum(-1)
        return bool(d[np.triu_indices(len(t), 1)].min(initial=999) >= 6)

    def take(self, rng, sampler, tries=40) -> np.ndarray:
        t = None
        for _ in range(tries):
            t = _tones(*sampler(), rng)
            if self.ok(t):
                break
        # last resort: nudge until unique
        t = t.copy()
        while not self.ok(t, 3.0):
            t = np.clip(t + rng.integers(-6, 7, size=t.shape), 8, 250)
        self.used.extend(list(t))
        return t.astype(np.uint8)


def sample_palette(rng: np.random.Generator, avoid=None) -> dict[str, np.ndarray]:
    """A character's color design: material -> (4, 3) uint8 tones, all colors distinct."""
    pk = _ColorPicker(avoid)
    u = rng.uniform
    pal: dict[str, np.ndarray] = {}
    pal["skin"] = pk.take(rng, lambda: (u(0.03, 0.09), u(0.12, 0.32), u(0.93, 1.0)))
    hair_h = u(0, 1)
    pal["hair"] = pk.take(rng, lambda: (hair_h + u(-.02, .02), u(0.25, 0.85), u(0.35, 0.95)))
    hb = pal["hair"][0].astype(float) / 255
    hh, hs, hv = colorsys.rgb_to_hsv(*hb)
    pal["brow"] = pk.take(rng, lambda: (hh, min(1, hs + 0.1), hv * u(0.45, 0.6)))
    pal["lash"] = pk.take(rng, lambda: (u(0.0, 0.1) if u() < .7 else hh, u(0.3, 0.6), u(0.16, 0.3)))
    pal["iris"] = pk.take(rng, lambda: (u(0, 1), u(0.45, 0.9), u(0.45, 0.9)))
    ih = colorsys.rgb_to_hsv(*(pal["iris"][0].astype(float) / 255))[0]
    pal["pupil"] = pk.take(rng, lambda: (ih, u(0.5, 0.8), u(0.12, 0.25)))
    pal["eye_white"] = pk.take(rng, lambda: (u(0.55, 0.7), u(0.0, 0.05), u(0.95, 0.985)))
    hl = np.array([[255, 255, 255], [235, 240, 250], [255, 255, 255], [220, 225, 240]], np.uint8)
    if not pk.ok(hl[:1].astype(np.int64), 2.0):
        hl[0] = (253, 253, 253)
    pal["eye_hl"] = hl
    pk.used.extend(list(hl.astype(np.int64)))
    pal["mouth"] = pk.take(rng, lambda: (u(0.96, 1.02), u(0.5, 0.7), u(0.45, 0.65)))
    pal["tongue"] = pk.take(rng, lambda: (u(0.97, 1.0), u(0.3, 0.45), u(0.85, 0.95)))
    for m in ("top", "bottom", "collar", "inner", "accent", "legwear", "shoe", "hair_acc",
              "button", "belt", "clip", "glasses", "prop", "prop2", "hat", "hat_band"):
        if m in ("collar", "inner") and u() < 0.4:
            pal[m] = pk.take(rng, lambda: (u(0, 1), u(0.0, 0.12), u(0.85, 0.97)))  # whites
        elif m in ("legwear", "shoe", "belt") and u() < 0.5:
            pal[m] = pk.take(rng, lambda: (u(0, 1), u(0.1, 0.5), u(0.15, 0.4)))  # darks
        else:
            pal[m] = pk.take(rng, lambda: (u(0, 1), u(0.2, 0.9), u(0.35, 0.95)))
    return pal


# ---------------------------------------------------------------------------------------
# Character specification and poses
# ---------------------------------------------------------------------------------------
@dataclass
class CharacterSpec:
    """Everything that stays fixed for one character across frames."""

    palette: dict[str, np.ndarray]
    materials: dict[str, str]
    # proportions
    head_w: float = 1.0
    chin: float = 1.08
    eye_y: float = 0.3
    eye_dx: float = 0.43
    eye_w: float = 0.3
    eye_h: float = 0.42
    iris_r: float = 0.62
    n_highlights: int = 2
    hl_outline_color: bool = False
    # hair
    bang_tips: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    hair_len: float = 2.0
    hair_width: float = 1.3
    back_tips: int = 5
    side_locks: float = 0.0  # length, 0 = none
    tails: float = 0.0  # twin tails length, 0 = none
    ahoge: bool = False
    bow: int = 0  # 0 none, 1 bow, 2 clip
    bow_side: int = 1
    cover_eye: int = 0  # 0 none, -1/+1: a long lock over that eye
    # clothes
    outfit: str = "sailor"  # sailor | shirt | jacket | dress
    long_sleeves: bool = False
    skirt: bool = True
    skirt_len: float = 1.8
    n_buttons: int = 3
    tie: int = 1  # 0 none, 1 ribbon bow, 2 necktie
    pleats: int = 4
    belt: bool = False
    torso_w: float = 1.2
    spiky: float = 0.0  # hair outline spikes (0 = smooth)
    ponytail: float = 0.0  # length, 0 = none
    pants: bool = False
    glasses: bool = False
    blush: bool = False
    prop: int = 0  # 0 none, 1 book, 2 ball, 3 cup (held in hand ``prop_hand``)
    prop_hand: int = 1
    hat: int = 0  # 0 none, 1 beret, 2 cap with brim
    # drawing
    line_k: float = 0.04  # outer line width per pixel of head radius
    open_strokes: bool = True


@dataclass
class Pose:
    """Per-frame pose and camera. Angles in radians."""

    x: float = 0.5  # neck base position (fraction of width/height)
    y: float = 0.5
    scale: float = 0.1  # head radius as a fraction of min(H, W)
    flip: bool = False
    roll: float = 0.0
    yaw: float = 0.0  # -1..1, 0 = front, +-0.5 = three quarter
    head_tilt: float = 0.0
    look: float = 0.0  # iris offset -1..1
    arms: np.ndarray = field(default_factory=lambda: np.array([0.25, 0.2, 0.25, 0.2]))
    legs: float = 0.06
    eye_open: float = 1.0
    mouth: int = 0  # 0 closed, 1 small open, 2 open
    light: float = -0.8  # light direction angle (image coords)

    def copy(self) -> "Pose":
        return replace(self, arms=self.arms.copy())


def generate_character(rng: np.random.Generator, avoid_colors=None) -> CharacterSpec:
    """Sample a new character (shape parameters + color design)."""
    u = rng.uniform
    pal = sample_palette(rng, avoid_colors)
    mats = {name: m for name, m in PARTS}
    long_sleeves = bool(u() < 0.45)
    if long_sleeves:
        mats["forearm_l"] = mats["forearm_r"] = "top"
        mats["upper_arm_l"] = mats["upper_arm_r"] = "top"
    if u() < 0.3:
        mats["legwear"] = "skin"
        mats["leg_l"] = mats["leg_r"] = "skin"
    outfit = str(rng.choice(["sailor", "shirt", "jacket", "dress"]))
    n_tips = int(rng.integers(4, 8))
    xs = np.linspace(-1.0, 1.0, n_tips + 2)[1:-1] + u(-0.06, 0.06, n_tips)
    tips = np.stack([xs, u(-0.12, 0.18, n_tips) + 0.1 * (np.abs(xs) > 0.6), u(-0.12, 0.12, n_tips)], 1)  # x, tip y, lean
    cover = 0
    if u() < 0.25:
        cover = int(rng.choice([-1, 1]))
    masc = bool(u() < 0.3)
    spec = CharacterSpec(
        palette=pal, materials=mats,
        head_w=u(0.92, 1.05), chin=u(1.0, 1.15), eye_y=u(0.26, 0.38), eye_dx=u(0.42, 0.5),
        eye_w=u(0.3, 0.38), eye_h=u(0.4, 0.56), iris_r=u(0.55, 0.72),
        n_highlights=int(rng.integers(1, 4)), hl_outline_color=bool(u() < 0.35),
        bang_tips=tips, hair_len=float(rng.choice([0.9, 1.6, 2.6, 4.0, 5.5])),
        hair_width=u(1.15, 1.45), back_tips=int(rng.integers(3, 8)),
        side_locks=float(u(1.0, 2.6) if u() < 0.6 else 0.0),
        tails=float(u(3.0, 6.0) if u() < 0.2 else 0.0), ahoge=bool(u() < 0.4),
        bow=int(rng.choice([0, 1, 2], p=[0.45, 0.35, 0.2])), bow_side=int(rng.choice([-1, 1])),
        cover_eye=cover, outfit=outfit, long_sleeves=long_sleeves, skirt=bool(u() < 0.75),
        skirt_len=u(1.3, 2.4), n_buttons=int(rng.integers(0, 5)),
        tie=int(rng.choice([0, 1, 2])), pleats=int(rng.integers(0, 7)), belt=bool(u() < 0.3),
        torso_w=u(1.05, 1.35), line_k=u(0.025, 0.06), open_strokes=bool(u() < 0.85),
        ponytail=float(u(2.0, 4.0) if u() < 0.2 else 0.0), glasses=bool(u() < 0.12),
        blush=bool(u() < 0.3), spiky=float(u(0.0, 0.1) if u() < 0.3 else 0.0),
        prop=int(rng.choice([0, 1, 2, 3], p=[0.75, 0.1, 0.08, 0.07])), prop_hand=int(rng.integers(0, 2)),
    )
    if u() < 0.12:
        spec.hat = int(rng.integers(1, 3))
        spec.ahoge = False
        spec.bow = 0
    if masc:
        spec.hair_len = float(rng.choice([0.5, 0.7, 1.0]))
        spec.spiky = u(0.06, 0.16)
        spec.tails = spec.ponytail = 0.0
        spec.side_locks = 0.0 if u() < 0.6 else u(0.6, 1.0)
        spec.bow = 0
        spec.skirt = False
        spec.pants = bool(u() < 0.8)
        spec.outfit = str(rng.choice(["shirt", "jacket", "sailor"], p=[0.5, 0.4, 0.1]))
        spec.eye_h *= 0.8
        spec.torso_w = u(1.25, 1.45)
        spec.blush = False
        spec.bang_tips[:, 1] -= 0.08
    elif not spec.skirt:
        spec.pants = bool(u() < 0.5)
    if spec.pants:
        mats["leg_l"] = mats["leg_r"] = "bottom"
    if spec.outfit == "dress":
        mats["skirt"] = "top"
        spec.pants = False
        mats["leg_l"] = mats["leg_r"] = "legwear"
    return spec


def random_pose(rng: np.random.Generator, framing: str | None = None) -> Pose:
    """A random pose and camera; framing in closeup | bust | medium | full (random if None)."""
    u = rng.uniform
    if framing is None:
        framing = str(rng.choice(["closeup", "bust", "medium", "full"], p=[.2, .35, .3, .15]))
    if framing == "closeup":
        scale, y = u(0.22, 0.34), u(0.6, 0.85)
    elif framing == "bust":
        scale, y = u(0.13, 0.2), u(0.45, 0.6)
    elif framing == "medium":
        scale, y = u(0.08, 0.12), u(0.3, 0.42)
    else:
        scale, y = u(0.055, 0.075), u(0.2, 0.27)
    arms = np.array([u(0.05, 1.2), u(-0.2, 2.4), u(0.05, 1.2), u(-0.2, 2.4)])
    if u() < 0.3:  # arms down
        arms = np.array([u(0.05, 0.3), u(0.0, 0.4), u(0.05, 0.3), u(0.0, 0.4)])
    yaw = float(rng.choice([0.0, u(-0.6, 0.6), u(-0.85, 0.85)], p=[0.3, 0.5, 0.2]))
    return Pose(
        x=u(0.35, 0.65), y=y, scale=scale, flip=bool(u() < 0.5), roll=u(-0.12, 0.12),
        yaw=yaw, head_tilt=u(-0.2, 0.2), look=u(-0.7, 0.7), arms=arms, legs=u(0.0, 0.25),
        eye_open=1.0 if u() < 0.85 else float(rng.choice([0.0, 0.5])),
        mouth=int(rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2])), light=u(-2.6, -0.5),
    )


def perturb_pose(p: Pose, rng: np.random.Generator, amount: float = 1.0) -> Pose:
    """Small motion between consecutive frames (pose + camera drift, blink, mouth)."""
    u = rng.uniform
    q = p.copy()
    a = amount
    q.x += u(-0.02, 0.02) * a
    q.y += u(-0.02, 0.02) * a
    q.scale *= 1 + u(-0.04, 0.04) * a
    q.roll += u(-0.03, 0.03) * a
    q.yaw = float(np.clip(q.yaw + u(-0.08, 0.08) * a, -0.9, 0.9))
    q.head_tilt += u(-0.05, 0.05) * a
    q.look = float(np.clip(q.look + u(-0.2, 0.2) * a, -1, 1))
    q.arms = q.arms + u(-0.12, 0.12, 4) * a
    q.arms[[0, 2]] = np.clip(q.arms[[0, 2]], -0.1, 1.6)
    q.legs = float(np.clip(q.legs + u(-0.03, 0.03) * a, 0, 0.3))
    q.eye_open = 1.0 if u() < 0.8 else float(rng.choice([0.0, 0.5]))
    if u() < 0.3:
        q.mouth = int(rng.integers(0, 3))
    q.light += u(-0.05, 0.05) * a
    return q
