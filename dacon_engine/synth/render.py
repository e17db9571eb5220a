"""Frames, clips, design sheets and training pairs from the procedural characters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .canvas import BG_ID, CODE_RGB, LINE_ID, Canvas
from .character import (
    MAX_SLOTS,
    N_TONES,
    PARTS,
    CharacterSpec,
    Pose,
    generate_character,
    perturb_pose,
    random_pose,
)
from .draw import draw_character

BACKGROUND_RGBA = (0, 0, 0, 0)
"""gt color of the background (PaintBucket convention)."""
LINE_RGBA = (0, 0, 0, 255)
"""gt and line-art color of black lines."""


@dataclass
class SynthFrame:
    """One rendered frame.

    line:     HxWx4 uint8 line art: black [0,0,0,255] lines, pure red/green/blue shading
              lines, paper = transparent (255,255,255,0) or opaque white.
    gt:       HxWx4 uint8 flat colors; black lines [0,0,0,255] exactly where the line art is
              black; color-line pixels carry the color of the segment they merge into;
              background [0,0,0,0].
    part_map: HxW int32; 0 = black line, 1 = background, else character part/tone id
              (see character.part_of_id); stable for a character across frames.
    """

    line: np.ndarray
    gt: np.ndarray
    part_map: np.ndarray
    meta: dict = field(default_factory=dict)


@dataclass
class Clip:
    specs: list[CharacterSpec]
    frames: list[SynthFrame]
    reference: SynthFrame  # design sheet
    poses: list[list[Pose]]
    regime: str = "consecutive"


def _size_hw(size) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        return int(size[0]), int(size[1])
    return int(size), int(size)


def color_lut(specs: list[CharacterSpec]) -> np.ndarray:
    """(n_ids, 4) uint8: part-map id -> gt RGBA for characters in slots 0..len(specs)-1."""
    n = 2 + len(specs) * len(PARTS) * N_TONES
    lut = np.zeros((n, 4), np.uint8)
    lut[LINE_ID] = LINE_RGBA
    lut[BG_ID] = BACKGROUND_RGBA
    for slot, spec in enumerate(specs):
        for pi, (name, _) in enumerate(PARTS):
            tones = spec.palette[spec.materials[name]]
            base = 2 + (slot * len(PARTS) + pi) * N_TONES
            lut[base:base + N_TONES, :3] = tones
            lut[base:base + N_TONES, 3] = 255
    return lut


def _compose(cv: Canvas, specs: list[CharacterSpec], paper: str, meta: dict) -> SynthFrame:
    cv.resolve_color_lines()
    part = cv.part
    h, w = part.shape
    lut = np.ascontiguousarray(color_lut(specs)).view(np.uint32).ravel()
    gt = lut[part].view(np.uint8).reshape(h, w, 4)
    tab = np.zeros((5, 4), np.uint8)
    tab[0] = (255, 255, 255, 0) if paper == "transparent" else (255, 255, 255, 255)
    for code, rgb in CODE_RGB.items():
        tab[code] = (*rgb, 255)
    tab[4] = LINE_RGBA
    code = cv.cline.copy()
    code[part == LINE_ID] = 4
    line = tab.view(np.uint32).ravel()[code].view(np.uint8).reshape(h, w, 4)
    return SynthFrame(line, gt, part, meta)


def _pick_tone_mode(rng) -> str:
    if rng is None:
        return "color"
    return str(rng.choice(["color", "black", "none"], p=[0.75, 0.12, 0.13]))


def render_frame(spec, pose, size=512, rng: np.random.Generator | None = None,
                 paper: str | None = None, tone_mode: str | None = None) -> SynthFrame:
    """Render one frame. ``spec``/``pose`` may be lists (several characters, drawn in order).

    size: int (square) or (height, width). paper: "transparent" | "white" | None (random
    from rng: 75 % transparent; transparent without rng). tone_mode: "color" (shadow and
    highlight subregions bounded by pure blue/red/green lines), "black" (bounded by black
    lines), "none" (flat base colors only) or None (random from rng, "color" without rng).
    """
    if tone_mode is None:
        tone_mode = _pick_tone_mode(rng)
    specs = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    poses = list(pose) if isinstance(pose, (list, tuple)) else [pose]
    if len(specs) != len(poses) or not 1 <= len(specs) <= MAX_SLOTS:
        raise ValueError("need one pose per character (1..8 characters)")
    if paper is None:
        paper = "white" if (rng is not None and rng.random() < 0.25) else "transparent"
    h, w = _size_hw(size)
    cv = Canvas(h, w, tone_mode)
    for slot, (s, p) in enumerate(zip(specs, poses)):
        draw_character(cv, s, p, slot)
    return _compose(cv, specs, paper, {"paper": paper, "tone_mode": tone_mode})


def sheet_poses(n_chars: int, n_views: int, size, rng: np.random.Generator) -> list[list[Pose]]:
    """Design-sheet layout: every character drawn n_views times side by side, full body."""
    h, w = _size_hw(size)
    total = n_chars * n_views
    col_w = w / total
    scale_px = min(0.9 * h / 10.8, col_w / 4.6)
    yaws = [0.0, 0.55, -0.55, 0.85][:n_views]
    out = []
    for c in range(n_chars):
        views = []
        for v in range(n_views):
            k = c * n_views + v
            views.append(Pose(
                x=(k + 0.5) * col_w / w, y=(0.5 * h - 2.3 * scale_px) / h, scale=scale_px / min(h, w),
                flip=False, roll=0.0, yaw=yaws[v], head_tilt=0.0, look=0.0,
                arms=np.array([0.22, 0.08, 0.22, 0.08]), legs=0.05, eye_open=1.0, mouth=0,
                light=-2.3))
        out.append(views)
    return out


def render_sheet(specs: list[CharacterSpec], size=512, rng=None, n_views: int = 3,
                 paper: str = "transparent", tone_mode: str = "color") -> SynthFrame:
    """A color-design sheet: each character in n_views views (front, 3/4 right, 3/4 left, ...)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    h, w = _size_hw(size)
    cv = Canvas(h, w, tone_mode)
    poses = sheet_poses(len(specs), n_views, (h, w), rng)
    for slot, spec in enumerate(specs):
        for p in poses[slot]:
            draw_character(cv, spec, p, slot)
    return _compose(cv, specs, paper, {"paper": paper, "sheet": True, "tone_mode": tone_mode})


def _place(poses: list[Pose], rng) -> None:
    """Spread several characters horizontally."""
    n = len(poses)
    if n < 2:
        return
    xs = np.linspace(0.3, 0.7, n) + rng.uniform(-0.05, 0.05, n)
    for p, x in zip(poses, xs):
        p.x = float(x)
        p.scale = min(p.scale, 0.16)
        p.y = min(max(p.y, 0.25), 0.6)


def _cast_poses(rng, n: int, framing: str | None = None) -> list[Pose]:
    """Poses for n characters sharing one framing, spread horizontally."""
    if framing is None:
        framing = str(rng.choice(["closeup", "bust", "medium", "full"], p=[.2, .35, .3, .15]))
        if n > 1 and framing == "closeup":
            framing = "bust"
    poses = [random_pose(rng, framing) for _ in range(n)]
    _place(poses, rng)
    return poses


def _new_cast(rng, n_chars: int) -> list[CharacterSpec]:
    specs: list[CharacterSpec] = []
    used: list = []
    for _ in range(n_chars):
        s = generate_character(rng, avoid_colors=used)
        specs.append(s)
        used.extend(c for tones in s.palette.values() for c in tones)
    return specs


def make_clip(seed: int, n_frames: int = 8, size=512, regime: str = "consecutive",
              n_chars: int | None = None, framing: str | None = None,
              paper: str | None = None, tone_mode: str | None = None) -> Clip:
    """A clip of one or two characters plus their design sheet (deterministic from seed).

    consecutive: small motion between frames (pose, camera drift, blinks, mouth).
    keyframe: every frame an independent pose/framing (scale, flip, view, occlusion).
    """
    if regime not in ("consecutive", "keyframe"):
        raise ValueError(f"regime must be 'consecutive' or 'keyframe', got {regime!r}")
    rng = np.random.default_rng(seed)
    if n_chars is None:
        n_chars = 1 if rng.random() < 0.7 else 2
    specs = _new_cast(rng, n_chars)
    p_white = rng.random() < 0.25
    paper = paper or ("white" if p_white else "transparent")
    fr = str(rng.choice(["closeup", "bust", "medium", "full"], p=[.2, .35, .3, .15]))
    framing = framing or fr
    tm = _pick_tone_mode(rng)
    tone_mode = tone_mode or tm
    poses = [random_pose(rng, framing) for _ in specs]
    _place(poses, rng)
    all_poses, frames = [], []
    for i in range(n_frames):
        if i > 0:
            if regime == "consecutive":
                poses = [perturb_pose(p, rng) for p in poses]
            else:
                poses = _cast_poses(rng, len(specs))
        all_poses.append([p.copy() for p in poses])
        frames.append(render_frame(specs, poses, size, rng, paper=paper, tone_mode=tone_mode))
    n_views = int(rng.integers(2, 5)) if n_chars == 1 else 2
    sheet = render_sheet(specs, size, rng, n_views=n_views, paper=paper, tone_mode=tone_mode)
    return Clip(specs, frames, sheet, all_poses, regime)


def make_pair(seed: int, size=512, regime: str = "consecutive") -> tuple[SynthFrame, SynthFrame]:
    """(reference, target) for training; colors give the correspondence.

    consecutive: two nearby frames (1-2 steps of small motion apart), random order.
    keyframe: the target has a large pose/scale/view change; the reference is the design
    sheet (half of the time) or another independently posed frame.
    """
    rng = np.random.default_rng(seed)
    n_chars = 1 if rng.random() < 0.8 else 2
    specs = _new_cast(rng, n_chars)
    paper = "white" if rng.random() < 0.25 else "transparent"
    tone_mode = _pick_tone_mode(rng)
    poses = _cast_poses(rng, len(specs))
    if regime == "consecutive":
        steps = int(rng.integers(1, 3))
        nxt = poses
        for _ in range(steps):
            nxt = [perturb_pose(p, rng) for p in nxt]
        a = render_frame(specs, poses, size, rng, paper=paper, tone_mode=tone_mode)
        b = render_frame(specs, nxt, size, rng, paper=paper, tone_mode=tone_mode)
        return (a, b) if rng.random() < 0.5 else (b, a)
    if regime != "keyframe":
        raise ValueError(f"regime must be 'consecutive' or 'keyframe', got {regime!r}")
    tgt = render_frame(specs, poses, size, rng, paper=paper, tone_mode=tone_mode)
    if rng.random() < 0.5:
        ref = render_sheet(specs, size, rng, n_views=int(rng.integers(2, 5)) if n_chars == 1 else 2,
                           paper=paper, tone_mode=tone_mode)
    else:
        other = _cast_poses(rng, len(specs))
        for p, q in zip(other, poses):
            p.scale = float(np.clip(q.scale * rng.uniform(0.6, 1.5), 0.04, 0.36))
        ref = render_frame(specs, other, size, rng, paper=paper, tone_mode=tone_mode)
    return ref, tgt
