"""The one options object: flat names, nesting, validation in one place, and every layer
(protocol schema, client, Colorizer, worker settings) taking the same object."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from dacon_engine.errors import DaconError
from dacon_engine.options import (
    FLAT_NAMES,
    ColorizeOptions,
    LineOptions,
    MatchOptions,
    PaletteOptions,
    protocol_fields,
)


def test_flat_names_reach_their_nested_option():
    opts = ColorizeOptions.from_flat(line_mode="adaptive", trace_colors=["brown"],
                                     line_colors=["navy"], palette="p.gpl",
                                     palette_tolerance=3, strict_palette=True,
                                     graph_refine=False, mirror=False, gap_radius=2)
    assert opts.line == LineOptions("adaptive", ["brown"], ["navy"])
    assert opts.palette == PaletteOptions("p.gpl", 3, True)
    assert opts.matching == MatchOptions(graph_refine=False, mirror=False)
    assert opts.gap_radius == 2 and opts.mode == "keyframe"
    assert opts.replace(mirror=True).matching == MatchOptions(False, True)
    assert opts.matching.mirror is False  # replace made a copy


def test_flat_round_trips_every_name():
    values = {"mode": "nearest", "formats": ["exr"], "gap_radius": 3, "frames": "1-4",
              "overwrite": True, "resume": False, "batch_size": 2, "workers": 3,
              "contact_sheet": True, "model": "baseline", "device": "cpu", "precision": "fp32",
              "dinov2_weights": "w.pth", "line_mode": "fixed", "trace_colors": ["red"],
              "line_colors": ["brown"], "palette": "p.json", "palette_tolerance": 4.5,
              "strict_palette": True, "graph_refine": False, "mirror": False,
              "reference_zooms": [2.0, 3.0], "adapt_seconds": 30.0}
    assert set(values) == set(FLAT_NAMES)
    assert ColorizeOptions.from_flat(**values).flat() == values
    with pytest.raises(TypeError, match="unknown colorize option 'line_width'"):
        ColorizeOptions.from_flat(line_width=2)


def test_the_protocol_schema_is_the_options():
    from dacon_engine.protocol import REQUESTS, check_request

    fields = REQUESTS["colorize"]
    assert set(fields) == {"targets", "references", "out"} | set(FLAT_NAMES)
    defaults = ColorizeOptions().flat()
    assert {k: v[1] for k, v in protocol_fields().items()} == defaults
    req, unknown = check_request({"type": "colorize", "targets": ["a"], "out": "o"})
    assert unknown == [] and ColorizeOptions.from_flat(
        **{k: req[k] for k in FLAT_NAMES}).check() == ColorizeOptions().check()
    for name, (types, _) in fields.items():  # nullable exactly where None is a value
        if name in FLAT_NAMES:
            assert (type(None) in types) == (defaults[name] is None), name


@pytest.mark.parametrize("flat, words", [
    ({"formats": []}, "--format: no output format given"),
    ({"mode": "loop"}, "--mode loop: unknown mode (choose from keyframe, consecutive, nearest)"),
    ({"formats": ["png", "tiff"]}, "--format json,png,tiff: unknown format"),
    ({"gap_radius": -1}, "--gap-radius -1: must be a whole number >= 0"),
    ({"gap_radius": 1.5}, "--gap-radius 1.5: must be a whole number >= 0"),
    ({"batch_size": 0}, "--batch-size 0: must be a whole number >= 1"),
    ({"batch_size": True}, "--batch-size True: must be a whole number >= 1"),
    ({"overwrite": True, "resume": True}, "--resume and --overwrite together"),
    ({"line_mode": "thin"}, "--line-mode thin: unknown mode (choose from auto, fixed, adaptive, learned)"),
    ({"trace_colors": ["reddish"]}, "--trace-color reddish: color 'reddish': use a name"),
    ({"line_colors": ["#ffffff"]}, "--line-color #ffffff: color '#ffffff' is white"),
    ({"strict_palette": True}, "--strict-palette needs --palette FILE"),
    ({"palette_tolerance": 4}, "--palette-tolerance 4 needs --palette FILE"),
    ({"palette": "p.gpl", "palette_tolerance": -1}, "--palette-tolerance -1: must be a number"),
    ({"graph_refine": 1}, "graph_refine 1: must be true or false"),
    ({"mirror": "no"}, "mirror 'no': must be true or false"),
    ({"reference_zooms": [1]}, "--ref-zoom 1: give distinct magnifications from 1.25 to 8"),
    ({"reference_zooms": [2, 2]}, "--ref-zoom 2,2: give distinct magnifications"),
    ({"reference_zooms": [9.5]}, "--ref-zoom 9.5: give distinct magnifications"),
    ({"reference_zooms": "2"}, "--ref-zoom 2: give distinct magnifications"),
    ({"reference_zooms": None}, "--ref-zoom None: give distinct magnifications"),
    ({"reference_zooms": ["2"]}, "--ref-zoom 2: give distinct magnifications"),
    ({"adapt_seconds": -1}, "--adapt-seconds -1: give the adaptation time budget in seconds"),
    ({"adapt_seconds": 3601}, "--adapt-seconds 3601: give the adaptation time budget"),
    ({"adapt_seconds": "60"}, "--adapt-seconds 60: give the adaptation time budget"),
    ({"adapt_seconds": None}, "--adapt-seconds None: give the adaptation time budget"),
    ({"precision": "fp16"}, "--precision fp16: unknown precision (choose from auto, fp32, "
                            "bf16)"),
    ({"workers": 0}, "--workers 0: must be a whole number >= 1"),
    ({"workers": 2, "contact_sheet": True}, "--workers 2: the contact sheet needs --workers 1"),
])
def test_check_refuses_each_bad_value_naming_the_option(flat, words):
    with pytest.raises(DaconError) as e:
        ColorizeOptions.from_flat(**flat).check()
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_check_normalizes():
    opts = ColorizeOptions.from_flat(formats=["EXR", "png", "exr"], trace_colors="red",
                                     gap_radius=2).check()
    assert opts.formats == ("json", "exr", "png")
    assert opts.line.trace_colors == ("red",) and opts.line.line_colors is None
    assert ColorizeOptions().check() == dataclasses.replace(ColorizeOptions(),
                                                            formats=("json", "png"))


def test_options_client_and_protocol_import_without_torch_or_numpy():
    code = ("import sys; import dacon_engine.options, dacon_engine.client, "
            "dacon_engine.protocol, dacon_engine.colors; "
            "heavy = {'torch', 'numpy', 'cv2', 'PIL'} & set(sys.modules); "
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr + r.stdout


def test_the_client_sends_the_options_object(monkeypatch):
    from dacon_engine import client as client_mod

    sent = {}
    monkeypatch.setattr(client_mod.EngineClient, "request",
                        lambda self, kind, **fields: sent.update(kind=kind, **fields))
    c = client_mod.EngineClient.__new__(client_mod.EngineClient)
    opts = ColorizeOptions.from_flat(mode="nearest", line_mode="adaptive", formats=("exr",))
    c.colorize(targets=["a.png"], out="o", options=opts, mirror=False)
    assert sent["kind"] == "colorize" and sent["targets"] == ["a.png"]
    assert {k: sent[k] for k in FLAT_NAMES} == opts.replace(mirror=False).flat()
    assert sent["device"] is None  # the service's default device unless one is asked for
    assert sent["formats"] == ["exr"]


def test_the_colorizer_takes_the_object_and_flat_overrides():
    from dacon_engine.colorizer import Colorizer

    opts = ColorizeOptions.from_flat(gap_radius=2, mirror=False, line_mode="adaptive")
    c = Colorizer("baseline", opts, graph_refine=False)
    assert (c.gap_radius, c.mirror, c.graph_refine) == (2, False, False)
    assert c.options.line.mode == "adaptive"
    assert Colorizer(None, opts.replace(model="baseline")).model_name == c.model_name
    with pytest.raises(DaconError, match="--gap-radius -2"):
        Colorizer("baseline", opts, gap_radius=-2)


def test_the_package_exports_the_api_lazily():
    code = ("import sys, dacon_engine; assert 'torch' not in sys.modules; "
            "from dacon_engine import ColorizeOptions; assert 'torch' not in sys.modules; "
            "from dacon_engine import Colorizer; assert 'torch' in sys.modules; "
            "assert Colorizer.__module__ == 'dacon_engine.colorizer'; "
            "assert ColorizeOptions.__module__ == 'dacon_engine.options'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    import dacon_engine

    with pytest.raises(AttributeError, match="no attribute 'Colorize'"):
        dacon_engine.Colorize  # noqa: B018
