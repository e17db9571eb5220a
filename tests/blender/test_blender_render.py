"""What the user renders is what the engine made: the sequencer render of a colorized shot,
in a new file with Blender's defaults, against the engine's PNG (decoded by Pillow).

Art: the 96 px test shot with a red trace line the engine fills, on opaque paper and on
transparent paper (transparent background in the reference, a half-transparent edge).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest
import shot_art
from PIL import Image
from shot_art import ENGINE_PYTHON, write_png

from dacon_blender_addon import compat, flatcolor, jobs, results, shots

if not ENGINE_PYTHON.is_file():
    pytest.skip(f"no engine interpreter at {ENGINE_PYTHON} (run scripts/setup_env.sh)",
                allow_module_level=True)

START, N, K = 11, 2, 2  # shot from scene frame 11; frame K is rendered
TRACE = (255, 0, 0)
CLAY = (200, 180, 150)


def _trace_art(rgba: np.ndarray, dx: int, colored: bool) -> np.ndarray:
    """A red trace (shading) line across the left region; filled in the colored reference."""
    b = shot_art.box(dx)
    row = b["ym"] + 10
    if not colored:
        rgba[row:row + 2, b["x0"] + 2:b["xm"] - 1, :3] = TRACE
    return rgba


def _clear(rgba: np.ndarray, colored: bool) -> np.ndarray:
    """Transparent paper: paper pixels alpha 0 (a colored sheet: its background), a
    half-transparent edge above the box's top line."""
    out = rgba.copy()
    if colored:
        out[np.all(out[:, :, :3] == shot_art.PAPER, axis=2), 3] = 0
    else:
        out[np.all(out[:, :, :3] >= 128, axis=2) & ~np.all(out[:, :, :3] == TRACE, axis=2),
            3] = 0
    return out


def make_art(root: Path, transparent: bool) -> dict[str, Any]:
    def art(dx: int, colors: tuple | None = None) -> np.ndarray:
        rgba = _trace_art(shot_art.draw(dx, colors), dx, colors is not None)
        if transparent:
            rgba = _clear(rgba, colors is not None)
            if colors is None:  # a soft edge: half-transparent ink over the top line
                b = shot_art.box(dx)
                rgba[b["y0"] - 1, b["x0"]:b["x1"]] = (0, 0, 0, 128)
        return rgba

    line = [write_png(root / "line" / f"line_{k:04d}.png", art(2 * k)) for k in range(1, N + 1)]
    ref = write_png(root / "ref" / "ref.png", art(-6, shot_art.COLORS))
    ref_line = write_png(root / "ref" / "ref_line.png", art(-6))
    return {"line": line, "ref": ref, "ref_line": ref_line}


@pytest.fixture(autouse=True)
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))


@pytest.fixture(scope="module")
def engine_out(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The engine's frames of each art (CLI), for the tests that do not colorize."""
    out = {}
    for transparent in (False, True):
        root = tmp_path_factory.mktemp("clear" if transparent else "opaque")
        a = make_art(root / "art", transparent)
        shot_art.cli_colorize(a["line"], [(a["ref"], a["ref_line"])], root / "out")
        out[transparent] = root
    return out


def _shot(art: dict[str, Any]) -> Any:
    scene = bpy.context.scene
    coll = compat.ensure_top_strips(scene)
    strip = coll.new_image(name="line", filepath=str(art["line"][0]), channel=2,
                           frame_start=START)
    for path in art["line"][1:]:
        strip.elements.append(path.name)
    shots.make_shot(strip)
    shots.add_reference(strip, color_path=str(art["ref"]), line_path=str(art["ref_line"]))
    return strip


def _colored(root: Path, tmp_path: Path) -> Any:
    """A shot whose engine frames are already in its output folder, result strip placed."""
    art = {"line": sorted((root / "art" / "line").glob("*.png")),
           "ref": root / "art" / "ref" / "ref.png", "ref_line": root / "art" / "ref" / "ref_line.png"}
    strip = _shot(art)
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    strip.dacon.output_dir = str(out)
    results.add_result_strip(bpy.context.scene, strip, str(out))
    return strip


def render(tmp_path: Path, color_mode: str = "RGBA", name: str = "render") -> np.ndarray:
    """The scene at frame START + K - 1, as a user renders it: the scene's own settings
    but for the size (the shot's, at 100 %) and RGB or RGBA PNG."""
    scene = bpy.context.scene
    r = scene.render
    r.resolution_x = r.resolution_y = shot_art.SIZE
    r.resolution_percentage = 100
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = color_mode
    r.filepath = str(tmp_path / f"{name}_{color_mode}.png")
    scene.frame_set(START + K - 1)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(r.filepath).convert("RGBA")).astype(int)


def engine_png(out: Path) -> np.ndarray:
    return np.asarray(Image.open(out / f"line_{K:04d}.png").convert("RGBA")).astype(int)


def over(png: np.ndarray, paper: tuple[int, int, int]) -> np.ndarray:
    """The engine's pixels composited over an opaque paper color (straight alpha)."""
    a = png[:, :, 3:4] / 255.0
    rgb = np.rint(png[:, :, :3] * a + np.asarray(paper) * (1 - a))
    return np.concatenate([rgb, np.full(a.shape, 255)], axis=2).astype(int)


def assert_close(got: np.ndarray, want: np.ndarray, mask: np.ndarray | None = None) -> None:
    mask = np.ones(got.shape[:2], bool) if mask is None else mask
    diff = np.abs(got - want).max(axis=2)[mask]
    assert diff.size and diff.max() <= 2, (
        f"{int((diff > 2).sum())} of {diff.size} pixels differ by more than 2 levels "
        f"(max {int(diff.max())})")


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque-paper", "transparent-paper"])
def test_colorize_in_a_new_file_renders_the_engine_png(addon: Any, tmp_path: Path,
                                                       transparent: bool) -> None:
    scene = bpy.context.scene
    assert scene.view_settings.view_transform != "Standard"  # a new file tone-maps (AgX)
    art = make_art(tmp_path / "art", transparent)
    strip = _shot(art)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    job = jobs.start_colorize(scene, strip)
    job.wait(300)
    assert job.state == jobs.DONE, job.error
    assert "to keep flat colors: view transform" in job.message and "-> Standard" in job.message
    assert flatcolor.problems(scene) == []
    png = engine_png(tmp_path / "dacon" / "line")
    line = np.asarray(Image.open(art["line"][K - 1]).convert("RGBA")).astype(int)
    trace = np.all(line[:, :, :3] == TRACE, axis=2) & (line[:, :, 3] == 255)
    assert trace.sum() > 20 and not np.any(np.all(png[trace][:, :3] == TRACE, axis=1))
    painted = png[:, :, 3] > 0
    for mode in ("RGBA", "RGB"):
        img = render(tmp_path, mode)
        want = over(png, (255, 255, 255)) if transparent else png  # White paper by default
        assert_close(img, want, painted)
        assert_close(img, want)  # and the paper, where the engine painted nothing
        assert not np.any(np.all(img[trace][:, :3] == TRACE, axis=1))  # no trace line back
    if transparent:
        assert results.paper_strip(scene, strip) is not None and not strip.mute


def test_paper_choices_on_transparent_paper(addon: Any, engine_out: dict[bool, Path],
                                            tmp_path: Path) -> None:
    scene = bpy.context.scene
    flatcolor.keep_flat_colors(scene)
    strip = _colored(engine_out[True], tmp_path)
    shot = strip.dacon
    png = engine_png(tmp_path / "out")
    painted = png[:, :, 3] > 0
    assert shot.transparent_paper and np.any(~painted) and np.any(png[:, :, 3] == 128)
    result = results.result_strip(scene, strip)
    paper = results.paper_strip(scene, strip)
    assert strip.channel < paper.channel < result.channel

    shot.paper = "COLOR"
    shot.paper_color = tuple(c / 255 for c in CLAY)
    for mode in ("RGBA", "RGB"):
        assert_close(render(tmp_path, mode, "clay"), over(png, CLAY))

    shot.paper = "TRANSPARENT"  # film: the fills alone, the line art muted under them
    assert results.paper_strip(scene, strip) is None and strip.mute and shot.line_art_muted
    img = render(tmp_path, "RGBA", "film")
    assert_close(img, png, painted)
    assert np.all(img[~painted][:, 3] == 0)
    assert flatcolor.output_has_alpha(scene)
    img = render(tmp_path, "RGB", "film")  # Blender shows transparency as black in RGB
    assert_close(img, over(png, (0, 0, 0)))
    assert not flatcolor.output_has_alpha(scene)  # the panel says so

    shot.paper = "WHITE"
    assert not strip.mute and not shot.line_art_muted
    assert results.paper_strip(scene, strip) is not None
    assert_close(render(tmp_path, "RGB", "white"), over(png, (255, 255, 255)))


def test_a_mute_the_user_made_is_left_alone(addon: Any, engine_out: dict[bool, Path],
                                            tmp_path: Path) -> None:
    strip = _colored(engine_out[False], tmp_path)  # opaque paper: no mute, no paper strip
    assert results.paper_strip(bpy.context.scene, strip) is None
    strip.mute = True
    strip.dacon.paper = "TRANSPARENT"
    strip.dacon.paper = "WHITE"
    assert strip.mute


SETTINGS = {
    "view transform": lambda s: setattr(s.view_settings, "view_transform", "Filmic"),
    "look": lambda s: (setattr(s.view_settings, "view_transform", "Standard"),
                       setattr(s.view_settings, "look", _a_look(s))),
    "exposure": lambda s: setattr(s.view_settings, "exposure", 0.5),
    "gamma": lambda s: setattr(s.view_settings, "gamma", 1.4),
    "curves": lambda s: setattr(s.view_settings, "use_curve_mapping", True),
    "display device": lambda s: setattr(s.display_settings, "display_device", "Display P3"),
    "sequencer color space": lambda s: setattr(s.sequencer_colorspace_settings, "name",
                                               "Linear Rec.709"),
    "output override": lambda s: (setattr(s.render.image_settings, "color_management",
                                          "OVERRIDE"),
                                  setattr(s.render.image_settings.view_settings,
                                          "view_transform", "AgX")),
    "sequencer": lambda s: setattr(s.render, "use_sequencer", False),
}


def _a_look(scene: Any) -> str:
    """A contrast look of the Standard view ("Standard - ..." in older configurations)."""
    for name in ("Medium High Contrast", "Standard - Medium High Contrast"):
        try:
            scene.view_settings.look = name
            return name
        except TypeError:
            continue
    raise AssertionError("no contrast look for the Standard view")


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_each_setting_that_alters_flat_colors_is_named_and_fixed(
        addon: Any, engine_out: dict[bool, Path], tmp_path: Path, setting: str) -> None:
    scene = bpy.context.scene
    flatcolor.keep_flat_colors(scene)
    assert flatcolor.problems(scene) == []
    strip = _colored(engine_out[False], tmp_path)
    png = engine_png(tmp_path / "out")
    SETTINGS[setting](scene)
    named = flatcolor.problems(scene)
    assert len(named) == 1 and setting in named[0], named
    changed = flatcolor.keep_flat_colors(scene)
    assert changed and flatcolor.problems(scene) == []
    assert_close(render(tmp_path), png)
    assert results.result_strip(scene, strip) is not None


def test_keep_flat_colors_off_leaves_the_scene_alone(addon: Any) -> None:
    scene = bpy.context.scene
    scene.dacon_keep_flat_colors = False
    before = scene.view_settings.view_transform
    assert flatcolor.keep_if_wanted(scene) == []
    assert scene.view_settings.view_transform == before != "Standard"
    assert any("view transform" in p for p in flatcolor.problems(scene))
    assert bpy.ops.dacon.keep_flat_colors() == {"FINISHED"}
    assert scene.view_settings.view_transform == "Standard"
