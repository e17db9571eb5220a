"""The engine's EXR Cryptomatte read by Blender's own compositor (real bpy, 4.2 and 5.x).

The engine (its .venv) colorizes a tiny shot with a palette into PNG + EXR. Blender loads
the EXR as an image, a Cryptomatte node (source 'IMAGE', layer CryptoPalette) picks one
palette name, the compositor renders (Workbench, 96 px) to a float EXR, and the matte must
equal exactly the pixels the PNG filled with that entry's color.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = ROOT / ".venv" / "bin" / "python"
SIZE = 96

# runs in the engine's venv: a shot (tests/support/clips.py), colorized with a palette, and for each
# entry the pixels the PNG filled with its color (the expected matte), as .npy
ENGINE_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[1])
from tests.support.clips import make_shot
from dacon_engine.jobs.cli import main
from dacon_engine.fileio.images import read_image
from dacon_engine.matching.palette import load_palette
work = Path(sys.argv[2])
shot = make_shot(work / "shot", n=1, size=96)
pal = work / "day.gpl"
pal.write_text("GIMP Palette\n250 222 198 skin\n30 160 60 hat\n40 90 205 eye\n"
               "200 40 60 mouth\n")
code = main(["colorize", str(shot["root"] / "line"), "--ref", str(shot["ref"]),
             "--ref-line", str(shot["ref_line"]), "--out", str(work / "out"),
             "--model", "baseline", "--palette", str(pal), "--format", "png,exr", "--quiet"])
assert code == 0, code
png = read_image(work / "out" / "0001.png")
p = load_palette(pal)
for name, color in zip(p.names, p.colors.tolist()):
    mask = (png[..., :3] == color).all(-1) & (png[..., 3] == 255)
    np.save(work / f"expected_{name}.npy", mask)
"""


@pytest.fixture(scope="module")
def engine_shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ENGINE_PYTHON.is_file():
        pytest.skip("the engine venv (.venv, scripts/setup_env.sh) is missing")
    work = tmp_path_factory.mktemp("crypto")
    proc = subprocess.run([str(ENGINE_PYTHON), "-c", ENGINE_SCRIPT, str(ROOT),
                           str(work)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


def render_matte(exr: Path, layer: str, names: str, out: Path) -> np.ndarray:
    """The compositor's Cryptomatte matte of ``names`` in ``exr`` (HxW, top row first)."""
    import bpy

    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    image = bpy.data.images.load(str(exr))
    if bpy.app.version >= (5, 0, 0):  # node groups: an Image output socket on a group output
        tree = bpy.data.node_groups.new("DACoN matte", "CompositorNodeTree")
        scene.compositing_node_group = tree
        tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        sink = tree.nodes.new("NodeGroupOutput")
    else:  # 4.x: the scene's own tree and a Composite node
        scene.use_nodes = True
        tree = scene.node_tree
        for node in list(tree.nodes):
            tree.nodes.remove(node)
        sink = tree.nodes.new("CompositorNodeComposite")
    crypto = tree.nodes.new("CompositorNodeCryptomatteV2")
    crypto.source = "IMAGE"
    crypto.image = image
    crypto.layer_name = layer  # a TypeError here: Blender did not find the layer's metadata
    crypto.matte_id = names
    tree.links.new(crypto.outputs["Matte"], sink.inputs[0])
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.filepath = str(out)
    bpy.ops.render.render(write_still=True)
    result = bpy.data.images.load(str(out))
    result.colorspace_settings.name = "Non-Color"  # read the floats back exactly
    w, h = result.size
    px = np.empty(w * h * 4, np.float32)
    result.pixels.foreach_get(px)
    return px.reshape(h, w, 4)[::-1, :, 0]  # Blender stores the bottom row first


@pytest.mark.parametrize("names,entries", [("skin", ["skin"]), ("hat, mouth", ["hat", "mouth"])])
def test_blender_cryptomatte_node_reads_the_engine_exr(engine_shot, tmp_path, names, entries):
    expected = np.zeros((SIZE, SIZE), bool)
    for e in entries:
        expected |= np.load(engine_shot / f"expected_{e}.npy")
    assert expected.any()
    matte = render_matte(engine_shot / "out" / "0001.exr", "CryptoPalette", names,
                         tmp_path / "matte.exr")
    assert matte.shape == expected.shape
    assert np.array_equal(matte, expected.astype(np.float32))


def test_shot_palette_reaches_the_colorize_request(addon, frames, tmp_path):
    import bpy

    from dacon_blender_addon import compat, shots

    coll = compat.ensure_top_strips(bpy.context.scene)
    strip = coll.new_image(name="line", filepath=str(frames[0]), channel=1, frame_start=1)
    shots.make_shot(strip).output_dir = str(tmp_path / "out")
    shots.add_reference(strip, color_path=str(frames[0]), line_path=str(frames[0]))
    assert "palette" not in shots.colorize_request(bpy.context.scene, strip)
    strip.dacon.palette = str(tmp_path / "day.gpl")
    assert shots.colorize_request(bpy.context.scene, strip)["palette"] == str(tmp_path / "day.gpl")
