"""Shot settings on line-art strips: persistence, references, output folders (real bpy)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy
import pytest
from bpy_helpers import write_png

from dacon_blender_addon import compat, previews, shots


def _line_strip(frames: list[Path], name: str = "line", channel: int = 1, start: int = 1) -> Any:
    coll = compat.ensure_top_strips(bpy.context.scene)
    strip = coll.new_image(name=name, filepath=str(frames[0]), channel=channel, frame_start=start)
    for path in frames[1:]:
        strip.elements.append(path.name)
    return strip


def _strip(name: str) -> Any:
    return compat.find_strip(bpy.context.scene, name)


def test_compat_names_match_this_blender(addon: Any, frames: list[Path]) -> None:
    strip = _line_strip(frames)
    assert type(strip).__mro__[1] is compat.strip_type()  # ImageStrip(Strip) / ImageSequence(Sequence)
    if bpy.app.version >= (5, 0, 0):
        assert compat.strip_type().__name__ == "Strip"  # 4.5 has Strip too; 4.2 only Sequence
    elif bpy.app.version < (4, 3, 0):
        assert compat.strip_type().__name__ == "Sequence"
    assert list(compat.top_strips(bpy.context.scene)) == [strip]
    assert list(compat.all_strips(bpy.context.scene)) == [strip]
    assert compat.sequencer_scene(bpy.context) == bpy.context.scene


def test_settings_survive_save_reload_rename_and_move(addon: Any, frames: list[Path],
                                                      tmp_path: Path) -> None:
    strip = _line_strip(frames)
    shot = shots.make_shot(strip)
    shot.mode = "nearest"
    shot.gap_radius = 3
    shot.formats = {"exr", "png"}
    shots.add_reference(strip, color_path="//refs/a.png", line_path="//refs/a_line.png")
    shots.add_reference(strip, color_path="//refs/b.png")
    uid = shot.uid
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    strip = _strip("line")
    strip.name = "sc010_line"
    strip.channel = 4
    compat.move_strip(strip, 25)
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert _strip("sc010_line") is None
    bpy.ops.wm.open_mainfile(filepath=str(blend))

    strip = _strip("sc010_line")
    assert strip is not None and (strip.channel, compat.strip_range(strip)) == (4, (25, 28))
    shot = strip.dacon
    assert shots.is_shot(strip) and shot.uid == uid
    assert (shot.mode, shot.gap_radius, set(shot.formats)) == ("nearest", 3, {"exr", "png"})
    assert [r.color_path for r in shot.references] == ["//refs/a.png", "//refs/b.png"]
    assert shot.references[0].line_path == "//refs/a_line.png"
    # the output folder was fixed when the shot was made: a rename keeps the results in place
    assert shots.output_dir(strip) == "//dacon/line/"
    assert [p for _f, p in shots.line_art_files(strip)] == [str(p) for p in frames]
    assert [f for f, _p in shots.line_art_files(strip)] == [25, 26, 27]


def test_settings_survive_add_on_unregister(addon: Any, frames: list[Path], tmp_path: Path) -> None:
    strip = _line_strip(frames)
    shots.make_shot(strip).gap_radius = 5
    blend = tmp_path / "keep.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    addon.unregister()
    try:
        assert not hasattr(_strip("line"), "dacon")
        bpy.ops.wm.open_mainfile(filepath=str(blend))
    finally:
        addon.register()
    assert _strip("line").dacon.gap_radius == 5


def test_output_folder_default_and_relative_paths(addon: Any, frames: list[Path],
                                                  tmp_path: Path) -> None:
    strip = _line_strip(frames, name='sc/01:"A"')
    shots.make_shot(strip)
    assert shots.output_dir(strip) == "//dacon/sc_01_A_/"
    with pytest.raises(shots.ShotError, match="save the .blend"):
        shots.resolve_output_dir(strip)
    for sub in "ab":
        (tmp_path / sub).mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "a" / "film.blend"))
    assert shots.resolve_output_dir(strip) == str(tmp_path / "a" / "dacon" / "sc_01_A_")

    # saving elsewhere keeps the folder relative: results follow the .blend
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "b" / "film.blend"))
    strip = _strip('sc/01:"A"')
    assert strip.dacon.output_dir == "//dacon/sc_01_A_/"
    assert shots.resolve_output_dir(strip) == str(tmp_path / "b" / "dacon" / "sc_01_A_")

    strip.dacon.output_dir = str(tmp_path / "abs" / "out")
    assert shots.resolve_output_dir(strip) == str(tmp_path / "abs" / "out")
    strip.dacon.output_dir = ""
    assert shots.output_dir(strip) == '//dacon/sc_01_A_/'


def test_make_shot_rejects_non_image_strip(addon: Any) -> None:
    coll = compat.ensure_top_strips(bpy.context.scene)
    color = coll.new_effect(name="bg", type="COLOR", channel=1, frame_start=1,
                            **({"length": 10} if bpy.app.version >= (5, 0, 0) else {"frame_end": 10}))
    with pytest.raises(shots.ShotError, match="not an image strip"):
        shots.make_shot(color)
    with pytest.raises(RuntimeError, match="not an image strip"):
        bpy.ops.dacon.make_shot(strip="bg")
    assert not color.dacon.is_shot


def test_reference_operators_add_remove_reorder(addon: Any, frames: list[Path],
                                                tmp_path: Path) -> None:
    strip = _line_strip(frames)
    compat.set_active_strip(bpy.context.scene, strip)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "refs.blend"))
    paths = [write_png(tmp_path / "refs" / f"{n}.png", (0, 1, 0, 1)) for n in "abc"]
    assert bpy.ops.dacon.make_shot() == {"FINISHED"}
    for path in paths:
        assert bpy.ops.dacon.reference_add_file(filepath=str(path)) == {"FINISHED"}
    shot = _strip("line").dacon
    names = lambda: [os.path.basename(r.color_path) for r in shot.references]  # noqa: E731
    assert names() == ["a.png", "b.png", "c.png"]
    assert shot.references[0].color_path == "//refs/a.png"  # stored relative to the .blend
    assert shot.active_reference == 2
    # its line art is stored the same way as the colored image (relative, or both absolute)
    line = write_png(tmp_path / "refs" / "d_line.png", (0, 0, 0, 1))
    assert bpy.ops.dacon.reference_add_file(filepath=str(paths[0]), line_path=str(line)) \
        == {"FINISHED"}
    assert (shot.references[3].color_path, shot.references[3].line_path) == \
        ("//refs/a.png", "//refs/d_line.png")
    assert bpy.ops.dacon.reference_add_file(filepath=str(paths[0]), line_path=str(line),
                                            relative_path=False) == {"FINISHED"}
    assert (shot.references[4].color_path, shot.references[4].line_path) == \
        (str(paths[0]), str(line))
    bpy.ops.dacon.reference_remove(index=4)
    bpy.ops.dacon.reference_remove(index=3)
    shot.active_reference = 2

    assert bpy.ops.dacon.reference_move(direction="UP") == {"FINISHED"}
    assert names() == ["a.png", "c.png", "b.png"] and shot.active_reference == 1
    bpy.ops.dacon.reference_move(direction="UP")
    bpy.ops.dacon.reference_move(direction="UP")  # already first: stays
    assert names() == ["c.png", "a.png", "b.png"] and shot.active_reference == 0
    bpy.ops.dacon.reference_move(direction="DOWN")
    assert names() == ["a.png", "c.png", "b.png"] and shot.active_reference == 1

    assert bpy.ops.dacon.reference_remove() == {"FINISHED"}
    assert names() == ["a.png", "b.png"] and shot.active_reference == 1
    bpy.ops.dacon.reference_remove(index=1)
    assert names() == ["a.png"] and shot.active_reference == 0
    bpy.ops.dacon.reference_remove()
    assert names() == []
    with pytest.raises(RuntimeError, match="no reference sheet"):
        bpy.ops.dacon.reference_remove()


def test_reference_from_strip_follows_rename_and_falls_back(addon: Any, frames: list[Path],
                                                            tmp_path: Path) -> None:
    line = _line_strip(frames)
    colored = [write_png(tmp_path / "color" / f"color_{i:04d}.png", (0, 0, 1, 1))
               for i in range(1, 4)]
    src = _line_strip(colored, name="colored", channel=2, start=1)
    bpy.context.scene.frame_current = 2
    line.select = True
    src.select = True
    compat.set_active_strip(bpy.context.scene, line)
    assert bpy.ops.dacon.reference_add_strip() == {"FINISHED"}
    ref = line.dacon.references[0]
    assert (ref.source, ref.strip_name, ref.frame) == ("STRIP", "colored", 2)

    src.name = "colored_v2"
    compat.move_strip(src, 11)  # the strip moves: frame 12 now shows color_0002
    ref.frame = 12
    assert shots.resolve_reference(bpy.context.scene, ref) == {"color": str(colored[1]),
                                                               "line": None}
    assert ref.strip_name == "colored_v2"

    compat.top_strips(bpy.context.scene).remove(src)
    assert shots.resolve_reference(bpy.context.scene, ref)["color"] == str(colored[1])
    with pytest.raises(RuntimeError, match="select a colored image strip"):
        bpy.ops.dacon.reference_add_strip()


def test_colorize_request(addon: Any, frames: list[Path], tmp_path: Path) -> None:
    strip = _line_strip(frames, start=101)
    with pytest.raises(shots.ShotError, match="not a DACoN shot"):
        shots.colorize_request(bpy.context.scene, strip)
    shots.make_shot(strip).mode = "consecutive"
    with pytest.raises(shots.ShotError, match="no reference sheets"):
        shots.colorize_request(bpy.context.scene, strip)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "req.blend"))
    strip = _strip("line")
    ref = write_png(tmp_path / "ref.png", (1, 0, 0, 1))
    shots.add_reference(strip, color_path="//ref.png", line_path=str(frames[0]))
    req = shots.colorize_request(bpy.context.scene, strip)
    assert req == {
        "targets": [str(p) for p in frames],
        "references": [{"color": str(ref), "line": str(frames[0])}],
        "out": str(tmp_path / "dacon" / "line"),
        "mode": "consecutive",
        "formats": ("png", "json"),
        "gap_radius": 0,
        "graph_refine": True,
        "mirror": True,
        "reference_zooms": [],
        "adapt_seconds": 0.0,
    }


def test_reference_thumbnail_reloads_when_file_changes(addon: Any, tmp_path: Path) -> None:
    path = write_png(tmp_path / "thumb.png", (1, 1, 0, 1), size=16)
    before = previews.count()
    first = previews.thumbnail(str(path))
    assert first is not None and tuple(first.image_size) == (16, 16)
    assert previews.thumbnail(str(path)) is first and previews.count() == before + 1
    write_png(path, (1, 1, 0, 1), size=24)
    os.utime(path, ns=(1, 1))
    assert tuple(previews.thumbnail(str(path)).image_size) == (24, 24)
    assert previews.thumbnail(str(tmp_path / "missing.png")) is None
    assert previews.thumbnail_icon("") == 0
