"""Grease Pencil colorization in real Blender (legacy GP in 4.2, GP v3 in 5.x), real engine.

A small GP animation is drawn from code (tests/blender/gp_scene.py); the add-on's plain
functions render its line art, colorize it in the engine of the repository's .venv and
write fills/plane back; renders of the result (Workbench, 128x96) are checked pixel by pixel.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

import gp_scene as G
from fake_engine_python import fake_python

from dacon_blender_addon import compat_gpencil as cg
from dacon_blender_addon import (gp_colorize, gp_engine, gp_frames, gp_job, gp_materials, gp_plane,
                                 gp_render)

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = ROOT / ".venv" / "bin" / "python"
SIZE = (128, 96)
needs_engine = pytest.mark.skipif(not ENGINE_PYTHON.is_file(),
                                  reason="needs the engine venv (scripts/setup_env.sh)")


@pytest.fixture(scope="module")
def engine() -> Any:
    """One engine for the module (model loaded once)."""
    from dacon_engine.client import EngineClient

    client = EngineClient(str(ENGINE_PYTHON), env={"OMP_NUM_THREADS": "1"})
    client.start(timeout=120)
    yield client
    client.shutdown()


def segment_counts(paths: list[Path]) -> list[int]:
    """Segments the engine finds in each line-art file (its own segmentation, in .venv)."""
    code = ("import sys, json; from dacon_engine.segmentation.segments import segment_frame; "
            "print(json.dumps([segment_frame(p).n_segments for p in sys.argv[1:]]))")
    out = subprocess.run([str(ENGINE_PYTHON), "-c", code, *map(str, paths)], check=True,
                         capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def render_final(scene: Any, path: Path, frame: int) -> np.ndarray:
    """Workbench render of the whole scene (flat lighting, texture colors), 8-bit RGBA."""
    with gp_render.overridden(gp_render.render_settings(scene) + [
            (scene.display.shading, "light", "FLAT"),
            (scene.display.shading, "color_type", "TEXTURE")]):
        scene.frame_set(frame)
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True, scene=scene.name)
    return G.read_png(str(path))


def configure(obj: Any, out: Path, *, plane: bool = False, keys: bool = False) -> None:
    s = obj.dacon_gp
    s.output_dir = str(out)
    s.write_plane = plane
    s.frames = "KEYS" if keys else "ALL"
    ref = s.references.add()
    ref.source = "FRAME"
    ref.frame = 1


def fill_state(style: Any) -> list:
    """The material settings the line-art render turns off to hide fills, as they are now."""
    return [tuple(v) if hasattr(v, "__len__") else v
            for v in (getattr(o, a) for o, a, _v in cg.hide_fills_settings(style))]


def close(a: Any, b: Any, tol: int = 3) -> bool:
    return bool(np.all(np.abs(np.asarray(a[:3], int) - np.asarray(b[:3], int)) <= tol))


@needs_engine
def test_line_art_render_is_closed_flat_black_and_restores_the_scene(addon, tmp_path):
    parts = G.small_face()
    scene, obj = G.make_scene(parts, frames=2, size=SIZE)
    other = bpy.data.objects.new("Empty", None)
    scene.collection.objects.link(other)
    mat = obj.data.materials["Paint Face"]
    before = (scene.render.engine, scene.render.film_transparent, scene.render.filter_size,
              scene.view_settings.view_transform, tuple(mat.grease_pencil.fill_color),
              fill_state(mat.grease_pencil), other.hide_render, scene.frame_current)
    done = gp_render.render_line_art(scene, obj, [1, 2], tmp_path / "line")
    assert [f for f, _p in done] == [1, 2]
    for _f, path in done:
        px = G.read_png(str(path))
        assert px.shape == (SIZE[1], SIZE[0], 4)
        assert set(np.unique(px[..., 3]).tolist()) == {0, 255}  # no anti-aliasing
        assert px[px[..., 3] == 255][:, :3].max() <= 2  # flat black, hand fills hidden
    # closed: the outside, the face (minus the eyes), two eyes, the box
    assert segment_counts([p for _f, p in done]) == [len(parts) + 1] * 2
    after = (scene.render.engine, scene.render.film_transparent, scene.render.filter_size,
             scene.view_settings.view_transform, tuple(mat.grease_pencil.fill_color),
             fill_state(mat.grease_pencil), other.hide_render, scene.frame_current)
    assert after == before


def test_line_art_render_hides_the_fills_of_line_strokes(addon, tmp_path):
    """Strokes that show a fill and their outline: the line art keeps the outline only."""
    parts = G.small_face()
    scene, obj = G.make_scene(parts, frames=1, size=SIZE)
    G.fill_line_strokes(obj, (1.0, 0.0, 0.0, 1.0))
    centers = G.part_centers(parts, 1, SIZE)
    img = render_final(scene, tmp_path / "filled.png", 1)
    assert all(close(img[y, x], (255, 0, 0)) for x, y in centers)  # the fills do render
    (_f, path), = gp_render.render_line_art(scene, obj, [1], tmp_path / "line")
    px = G.read_png(str(path))
    assert all(px[y, x, 3] == 0 for x, y in centers)  # no fill at all
    assert (px[..., 3] == 255).sum() > 200 and px[px[..., 3] == 255][:, :3].max() <= 2


@needs_engine
def test_colorize_writes_fills_under_the_lines_and_rerun_replaces(addon, engine, tmp_path):
    parts = G.small_face()
    scene, obj = G.make_scene(parts, frames=3, size=SIZE)
    configure(obj, tmp_path / "out", plane=True)
    report = gp_colorize.colorize_object(scene, obj, client=engine)
    assert report["rendered"] == 3 and report["fills"]["strokes"] == 3 * len(parts)
    gp = obj.data
    names = [cg.layer_name(layer) for layer in gp.layers]
    assert names.index(gp_frames.FILL_LAYER) < names.index("Lines")  # fills below the lines
    layer = cg.find_layer(gp, gp_frames.FILL_LAYER)
    assert cg.frame_numbers(layer) == [1, 2, 3]
    expected = {gp_materials.hex_color(p.color): f"DACoN Paint {p.name}" for p in parts}
    for f in (1, 2, 3):
        key = cg.frame_at(layer, f)
        mats = [gp.materials[i] for i in cg.stroke_materials(key)]
        assert len(mats) == len(parts)  # one stroke per colored segment, no holes needed
        assert {m[gp_materials.COLOR_KEY] for m in mats} == set(expected)
        assert all(m.name == expected[m[gp_materials.COLOR_KEY]] for m in mats)  # palette names
        assert mats[0].name == "DACoN Paint Face"  # the container first, eyes over it
        assert cg.stroke_parts(obj, key) == [(True, False)] * len(parts)  # flat, no outline
    fill_mats = sorted(m.name for m in gp.materials if m and m.name.startswith("DACoN"))

    plane = gp_plane.find_plane(obj)
    assert plane is not None and plane.parent == scene.camera
    color_dir = tmp_path / "out" / "color"
    for f in (1, 2, 3):
        shown = Path(gp_plane.plane_file(plane, f))
        assert shown.name == f"{f:04d}.png"
        assert shown.read_bytes() == (color_dir / f"{f:04d}.png").read_bytes()

    # a render of the final scene: fills at every part, lines on top (plane hidden)
    plane.hide_render = True
    for f in (1, 3):
        img = render_final(scene, tmp_path / f"final_{f}.png", f)
        for part, (x, y) in zip(parts, G.part_centers(parts, f, SIZE)):
            assert close(img[y, x], part.color), (f, part.name, img[y, x])
        line = G.read_png(str(tmp_path / "out" / "line" / f"{f:04d}.png"))
        on_line = line[..., 3] == 255
        assert (img[on_line][:, :3].max(axis=1) <= 8).mean() > 0.98  # lines stay black on top
        inside = ~on_line & (img[..., 3] == 255)
        assert inside.sum() > 0.2 * img.shape[0] * img.shape[1]

    # the plane alone shows the same colors behind the object
    plane.hide_render = False
    layer.hide = True
    img = render_final(scene, tmp_path / "plane_2.png", 2)
    for part, (x, y) in zip(parts, G.part_centers(parts, 2, SIZE)):
        assert close(img[y, x], part.color, 4), (part.name, img[y, x])
    layer.hide = False

    # re-running replaces the fills layer and plane, and reuses the materials
    n_objects, n_images = len(bpy.data.objects), len(bpy.data.images)
    gp_colorize.colorize_object(scene, obj, client=engine)
    assert [cg.layer_name(x) for x in gp.layers].count(gp_frames.FILL_LAYER) == 1
    layer = cg.find_layer(gp, gp_frames.FILL_LAYER)
    assert [cg.stroke_count(cg.frame_at(layer, f)) for f in (1, 2, 3)] == [len(parts)] * 3
    assert sorted(m.name for m in gp.materials if m and m.name.startswith("DACoN")) == fill_mats
    assert len(bpy.data.objects) == n_objects and len(bpy.data.images) == n_images
    assert cg.find_layer(gp, "Lines") is not None and cg.find_layer(gp, "Hand fills") is not None
    assert gp_colorize.clear_results(obj) == {"fills": True, "plane": True}
    assert gp_plane.find_plane(obj) is None and cg.find_layer(gp, gp_frames.FILL_LAYER) is None


@needs_engine
def test_hole_showing_the_paper_is_cut_out(addon, engine, tmp_path):
    """A ring whose middle the artist left unpainted: its fill gets a holdout stroke."""
    ring = G.Part("Ring", G.circle(0.0, 0.0, 1.1), (200, 120, 40), 0.06)
    middle = G.Part("Middle", G.circle(0.0, 0.0, 0.45), (0, 0, 0), 0.05)
    scene, obj = G.make_scene([ring, middle], frames=2, size=SIZE)
    hole = obj.data.materials["Paint Middle"].grease_pencil
    hole.use_fill_holdout = True  # the artist cut the middle out of the ring
    configure(obj, tmp_path / "out")
    report = gp_colorize.colorize_object(scene, obj, client=engine)
    assert report["fills"]["holes"] == 2  # one per frame
    layer = cg.find_layer(obj.data, gp_frames.FILL_LAYER)
    mats = [obj.data.materials[i].name for i in cg.stroke_materials(cg.frame_at(layer, 2))]
    assert mats == ["DACoN Paint Ring", gp_materials.HOLE_MATERIAL]
    img = render_final(scene, tmp_path / "final.png", 2)
    (rx, ry), (mx, my) = G.part_centers([ring, middle], 2, SIZE)
    assert close(img[ry, rx], ring.color) and img[ry, rx, 3] == 255
    assert img[my, mx, 3] == 0  # the paper shows through the hole
    line = G.read_png(str(tmp_path / "out" / "line" / "0002.png"))[..., 3] == 255
    assert (img[line][:, 3] == 255).all()  # the holdout cuts the fills, not the lines above
    assert (img[line][:, :3].max(axis=1) <= 8).mean() > 0.98


@needs_engine
def test_keys_only_holds_colors_over_each_exposure(addon, engine, tmp_path):
    parts = [G.Part("Block", G.rect(-1.2, -0.6, 0.2, 0.6), (90, 60, 200), 0.05),
             G.small_face()[-1]]
    scene, obj = G.make_scene(parts, frames=4, size=SIZE, hold=2)
    configure(obj, tmp_path / "out", plane=True, keys=True)
    plan = gp_frames.plan_frames(scene, obj, keys_only=True)
    assert plan.rendered == [1, 3] and plan.shows == {1: 1, 2: 1, 3: 3, 4: 3}
    report = gp_colorize.colorize_object(scene, obj, client=engine)
    assert report["rendered"] == 2 and report["frames"] == 4
    layer = cg.find_layer(obj.data, gp_frames.FILL_LAYER)
    assert cg.frame_numbers(layer) == [1, 3]
    plane = gp_plane.find_plane(obj)
    shown = [Path(gp_plane.plane_file(plane, f)) for f in (1, 2, 3, 4)]
    assert [p.name for p in shown] == ["0001.png", "0002.png", "0003.png", "0004.png"]
    assert shown[1].read_bytes() == shown[0].read_bytes() != shown[2].read_bytes()
    assert shown[3].read_bytes() == shown[2].read_bytes()
    plane.hide_render = True
    img = render_final(scene, tmp_path / "f4.png", 4)  # held drawing of frame 3
    for part, (x, y) in zip(parts, G.part_centers(parts, 4, SIZE, hold=2)):
        assert close(img[y, x], part.color), (part.name, img[y, x])


def test_plain_functions_refuse_what_they_cannot_do(addon, tmp_path):
    scene = bpy.context.scene
    mesh_obj = bpy.data.objects.new("NotGP", bpy.data.meshes.new("m"))
    scene.collection.objects.link(mesh_obj)
    with pytest.raises(gp_frames.GPError, match="not a Grease Pencil object"):
        gp_render.render_line_art(scene, mesh_obj, [1], tmp_path)
    obj = cg.new_gp_object("GP", scene.collection)
    with pytest.raises(gp_frames.GPError, match="no active camera"):
        gp_render.render_line_art(scene, obj, [1], tmp_path)
    with pytest.raises(gp_frames.GPError, match="no drawing"):
        gp_frames.plan_frames(scene, obj, keys_only=True)
    with pytest.raises(gp_frames.GPError, match="reference sheet"):
        gp_engine.run_engine([tmp_path / "x.png"], [], tmp_path, python=str(ENGINE_PYTHON))
    obj.dacon_gp.output_dir = "//rel/"
    with pytest.raises(gp_frames.GPError, match="save the .blend"):
        gp_colorize.colorize_object(scene, obj)


def test_gp_classes_register_and_unregister_with_the_addon(addon):
    from dacon_blender_addon import ops_gpencil

    def state() -> list[bool]:
        return [bool(c.is_registered) for c in ops_gpencil.CLASSES] + [
            "dacon_gp" in bpy.types.Object.bl_rna.properties]

    assert all(state())
    assert hasattr(bpy.ops.dacon, "gp_colorize")
    addon.unregister()
    try:
        assert not any(state())
    finally:
        addon.register()
    assert all(state())
    scene, obj = G.make_scene(G.small_face()[:1], frames=1, size=SIZE)
    with bpy.context.temp_override(active_object=obj, object=obj):
        assert bpy.ops.dacon.gp_reference_add(frame=1) == {"FINISHED"}
    assert [(r.source, r.frame) for r in obj.dacon_gp.references] == [("FRAME", 1)]


@needs_engine
def test_operator_runs_through_the_session_engine(addon, tmp_path, monkeypatch):
    from dacon_blender_addon import engine as session

    scene, obj = G.make_scene(G.small_face()[3:], frames=1, size=SIZE)  # the box alone
    configure(obj, tmp_path / "out")
    monkeypatch.setattr("dacon_blender_addon.ops_gpencil.engine_python",
                        lambda prefs: str(ENGINE_PYTHON))
    try:
        with bpy.context.temp_override(active_object=obj, object=obj):
            assert bpy.ops.dacon.gp_colorize() == {"FINISHED"}
        assert session.current_client() is not None and session.current_client().alive
    finally:
        session.stop_all()
    layer = cg.find_layer(obj.data, gp_frames.FILL_LAYER)
    assert cg.stroke_count(cg.frame_at(layer, 1)) == 1


def test_job_checks_everything_before_rendering(addon, tmp_path):
    """A missing reference file, an unwritable folder, a filled frame without a drawing or no
    interpreter are refused at once, naming the problem, with nothing rendered."""
    scene, obj = G.make_scene(G.small_face()[:1], frames=3, size=SIZE)
    s = obj.dacon_gp
    s.output_dir = str(tmp_path / "out")
    ref = s.references.add()
    ref.source = "FILE"
    ref.color_path = str(tmp_path / "keys" / "gone.png")
    py = str(ENGINE_PYTHON)
    with pytest.raises(gp_frames.GPError, match=r"reference sheet 1: .*gone.png: no such colored "
                                              r"image file"):
        gp_job.start(scene, obj, python=py)
    assert not (tmp_path / "out" / "line").exists()  # nothing rendered
    ref.source = "FRAME"
    ref.frame = 0  # before the first drawing (frame 1)
    with pytest.raises(gp_frames.GPError, match="reference sheet 1: 'Character' has no drawing "
                                              "at frame 0"):
        gp_job.start(scene, obj, python=py)
    ref.frame = 1
    (tmp_path / "a_file").write_text("not a folder")
    s.output_dir = str(tmp_path / "a_file" / "out")
    with pytest.raises(gp_frames.GPError, match="a_file/out: cannot write the renders"):
        gp_job.start(scene, obj, python=py)
    s.output_dir = str(tmp_path / "out")
    with pytest.raises(gp_frames.GPError, match="no engine interpreter is set"):
        gp_job.start(scene, obj, python="")
    with pytest.raises(gp_frames.GPError, match="nope/python: no such engine interpreter"):
        gp_job.start(scene, obj, python=str(tmp_path / "nope" / "python"))
    assert not (tmp_path / "out" / "line").exists() and not gp_job.jobs.ACTIVE


def test_job_runs_in_steps_shows_progress_and_cancels(addon, tmp_path):
    """One render per update (the modal timer's tick), then the engine polled; a cancel
    while rendering or while the engine colorizes leaves the object as it was."""
    scene, obj = G.make_scene(G.small_face(), frames=3, size=SIZE)
    configure(obj, tmp_path / "out")
    status = bpy.context.window_manager.dacon_job
    job = gp_job.start(scene, obj, python=fake_python(tmp_path / "fake"))
    assert gp_job.job_for(obj) is job and job.status_text() == "DACoN 'Character': rendering"
    assert not job.update()  # the reference sheet (frame 1, filled by hand)
    assert not job.update()  # line art of frame 1
    assert job.progress == (2, 4) and status.running and status.kind == gp_job.KIND
    assert job.status_text() == "DACoN 'Character': rendering 2/4"
    assert [p.name for p in (tmp_path / "out" / "line").iterdir()] == ["0001.png"]
    assert bpy.ops.dacon.cancel_job() == {"FINISHED"}  # the panel's cancel button
    assert job.cancelling and status.message == "cancelling..."
    assert job.update() and job.state == "cancelled"
    assert job.message == ("cancelled while rendering (1/3 frames rendered); the object is "
                           "unchanged")
    assert len(list((tmp_path / "out" / "line").iterdir())) == 1  # no render after the cancel
    assert cg.find_layer(obj.data, gp_frames.FILL_LAYER) is None and gp_job.job_for(obj) is None

    held = fake_python(tmp_path / "held", FAKE_HOLD_AFTER="1")
    job = gp_job.start(scene, obj, python=held)
    while not (job.phase == gp_job.COLORIZE and job.progress == (1, 3)):
        assert not job.update(), job.message
    assert 0.4 < job.fraction < 0.9
    assert job.status_text() == "DACoN 'Character': colorizing 1/3"
    job.cancel()
    assert job.status_text() == "DACoN 'Character': cancelling..."
    job.wait(30)
    assert job.state == "cancelled" and job.error is None
    assert job.message.startswith("cancelled after 1/3 frames; the object is unchanged")
    assert cg.find_layer(obj.data, gp_frames.FILL_LAYER) is None
    assert status.state == "cancelled" and not status.running
    from dacon_blender_addon import engine as session
    session.stop_all()
