"""A Blender palette datablock as the shot's palette, and Recolor with Palette (real bpy).

The datablock is written as a GIMP .gpl the engine's own reader must parse to exactly the
sRGB values the palette shows (4.x stores sRGB floats, 5.x scene-linear ones); a colorize
through the real engine (.venv, CPU) then fills only palette values, and a recolor with
another palette of the same names swaps them in the files, the result strip and open images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest
import shot_art
from shot_art import ENGINE_PYTHON, read_png

from dacon_blender_addon import compat, jobs, results, shots
from dacon_engine.matching.palette import load_palette

START = 11
N = 2


def srgb_to_linear(byte: int) -> float:
    """The sRGB transfer function inverted (IEC 61966-2-1), written out here on purpose."""
    c = byte / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def make_palette(name: str, values: list[tuple[int, int, int]]) -> Any:
    """A palette datablock showing these 8-bit sRGB values (stored as each version stores them)."""
    pal = bpy.data.palettes.new(name)
    for rgb in values:
        color = pal.colors.new()
        if bpy.app.version >= (5, 0, 0):  # 5.0 made palette colors scene linear
            color.color = tuple(srgb_to_linear(v) for v in rgb)
        else:  # 4.x: the picker's sRGB floats
            color.color = tuple(v / 255.0 for v in rgb)
    return pal


def test_palette_datablock_written_as_gpl_with_exact_srgb_values(addon: Any,
                                                                 frames: list[Path],
                                                                 tmp_path: Path) -> None:
    coll = compat.ensure_top_strips(bpy.context.scene)
    strip = coll.new_image(name="line", filepath=str(frames[0]), channel=1, frame_start=1)
    out = tmp_path / "out"
    shots.make_shot(strip).output_dir = str(out)
    shots.add_reference(strip, color_path=str(frames[0]))
    values = [(250, 222, 198), (0, 0, 0), (255, 255, 255), (1, 128, 254), (30, 160, 60)]
    pal = make_palette("Day / key", values)
    pal["dacon_names"] = ["skin", "", "  eye \n white ", "hat"]  # the 5th has no stored name

    strip.dacon.palette = str(tmp_path / "file.gpl")  # the datablock wins over the file
    strip.dacon.palette_datablock = pal
    request = shots.colorize_request(bpy.context.scene, strip)
    path = out / "palette_Day _ key.gpl"
    assert request["palette"] == str(path)
    loaded = load_palette(path)  # the engine's own reader
    assert loaded.names == ("skin", "color_02", "eye white", "hat", "color_05")
    assert [tuple(c) for c in loaded.colors.tolist()] == values
    assert sorted(os.listdir(out)) == [path.name]  # written atomically: no temp file left

    del pal["dacon_names"]
    pal.colors.remove(pal.colors[4])
    assert load_palette(shots.palette_path(strip)).names == \
        ("color_01", "color_02", "color_03", "color_04")

    twin = make_palette("twin", [(10, 20, 30), (40, 50, 60), (10, 20, 30)])
    strip.dacon.palette_datablock = twin
    with pytest.raises(shots.ShotError, match="colors 1 .* and 3 .* both #0a141e"):
        shots.colorize_request(bpy.context.scene, strip)
    assert not (out / "palette_twin.gpl").exists()
    strip.dacon.palette_datablock = None
    assert shots.palette_path(strip) == str(tmp_path / "file.gpl")
    strip.dacon.palette = ""
    with pytest.raises(RuntimeError, match="has no palette"):
        bpy.ops.dacon.recolor_shot(strip="line")


# reference colors (shot_art.COLORS) -> a day palette a few delta-E off (colorize snaps to
# it), a night palette with the same names, and one that lacks color_04
DAY = [(244, 242, 236), (214, 46, 44), (46, 64, 214), (44, 176, 66)]
NIGHT = [(40, 40, 70), (120, 30, 60), (20, 30, 110), (20, 80, 50)]


def _fills(path: Path, line_art: Path) -> np.ndarray:
    """(m, 3) RGB of every pixel that is not ink in the line art."""
    ink = read_png(line_art)[:, :, 0] < 128
    return read_png(path)[~ink][:, :3]


def _setup_render(scene: Any) -> None:
    """Sequencer output at 96 px, sRGB in = sRGB out (set once: changing render settings
    clears the sequencer's cache, which would hide a result strip that shows stale frames)."""
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x = render.resolution_y = shot_art.SIZE
    render.resolution_percentage = 100
    render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    scene.frame_set(START)


def _render(scene: Any, path: Path) -> np.ndarray:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_png(path)


def _pixel(image: Any, row: int, col: int) -> list[int]:
    """8-bit RGB of an image datablock at (row, col), top row first (loads it if needed)."""
    px = np.empty(shot_art.SIZE * shot_art.SIZE * 4, np.float32)
    image.pixels.foreach_get(px)
    at = ((shot_art.SIZE - 1 - row) * shot_art.SIZE + col) * 4  # Blender: bottom row first
    return np.rint(px[at:at + 3] * 255).astype(int).tolist()


def test_colorize_with_palette_datablock_then_recolor(addon: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if not ENGINE_PYTHON.is_file():
        pytest.skip(f"no engine interpreter at {ENGINE_PYTHON} (run scripts/setup_env.sh)")
    monkeypatch.setenv("DACON_ENGINE_PYTHON", str(ENGINE_PYTHON))
    art = shot_art.make_art(tmp_path / "art", frames=N)
    scene = bpy.context.scene
    strip = compat.ensure_top_strips(scene).new_image(
        name="line", filepath=str(art["line"][0]), channel=2, frame_start=START)
    for path in art["line"][1:]:
        strip.elements.append(path.name)
    shots.make_shot(strip)
    shots.add_reference(strip, color_path=str(art["ref"]), line_path=str(art["ref_line"]))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    strip = compat.find_strip(scene, "line")
    strip.dacon.palette_datablock = make_palette("day", DAY)
    out = tmp_path / "dacon" / "line"

    job = jobs.start_colorize(scene, strip)
    assert job.request["palette"] == str(out / "palette_day.gpl")
    job.wait(180)
    assert job.state == jobs.DONE, job.error
    for k in range(1, N + 1):  # every fill is a palette value, each region its entry's
        png = out / f"line_{k:04d}.png"
        assert set(map(tuple, _fills(png, art["line"][k - 1]).tolist())) <= set(DAY)
        img, p = read_png(png), shot_art.points(k)
        for region, value in zip(("paper", "left", "top_right", "bottom_right"), DAY):
            assert tuple(img[p[region]][:3]) == value, (k, region)
    before = {f: (out / f).read_bytes() for f in sorted(os.listdir(out))
              if f.endswith((".png", ".json"))}
    left = shot_art.points(1)["left"]
    _setup_render(scene)
    assert _render(scene, tmp_path / "day.png")[left][:3].tolist() == list(DAY[1])
    opened = bpy.data.images.load(str(out / "line_0001.png"))  # as in an Image editor
    assert _pixel(opened, *left) == list(DAY[1])  # the sequencer and the image hold day

    # a palette without color_04: refused in the engine's one line, nothing rewritten
    strip.dacon.palette_datablock = make_palette("short", NIGHT[:3])
    with pytest.raises(RuntimeError, match="'color_04'"):
        bpy.ops.dacon.recolor_shot(strip="line")
    status = bpy.context.window_manager.dacon_job
    assert (status.kind, status.state) == ("recolor", "failed")
    assert "not in this palette" in status.message and "\n" not in status.message
    assert all((out / f).read_bytes() == data for f, data in before.items())

    # the night palette, same names: every day value becomes its night value
    strip.dacon.palette_datablock = make_palette("night", NIGHT)
    job = jobs.start_recolor(scene, strip)
    job.wait(120)
    assert job.state == jobs.DONE, job.error
    assert job.message.startswith(f"recolored {N} frames with palette_night.gpl")
    assert (status.state, status.done, status.total) == ("done", N, N)
    swap = dict(zip(DAY, NIGHT))
    for k in range(1, N + 1):
        name = f"line_{k:04d}.png"
        old = _fills_from_bytes(tmp_path, name, before[name], art["line"][k - 1])
        new = _fills(out / name, art["line"][k - 1])
        assert [swap[tuple(c)] for c in old.tolist()] == list(map(tuple, new.tolist()))
    assert results.result_strip(scene, strip).name == job.strip_name == "line.color"
    # the result strip and the open image show the new files
    assert _render(scene, tmp_path / "night.png")[left][:3].tolist() == list(NIGHT[1])
    assert _pixel(opened, *left) == list(NIGHT[1])


def _fills_from_bytes(tmp_path: Path, name: str, data: bytes, line_art: Path) -> np.ndarray:
    """:func:`_fills` of a PNG kept as bytes (the frame as it was before the recolor)."""
    path = tmp_path / "before" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return _fills(path, line_art)
