"""The Colorizer's options as a user sees them, fast (baseline model, 96-px drawings):
palette snapping and its strict refusal, gap radius and line options applied to references
and targets alike, the out-of-memory fallback, lean references, chain bookkeeping (banks
released once used), the loader thread, and argument errors."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dacon_engine.colorizer import Colorizer, processing_order
from dacon_engine.errors import DaconError
from dacon_engine.frames import Reference, SegmentedFrame
from dacon_engine.model.registry import build_featurizer
from dacon_engine.options import LineOptions
from dacon_engine.segmentation.segments import segment_line_art
from tests.support.art import COLORS, draw
from tests.support.clips import save

# the art's colors except the hat's green; the eyes and the face are a little off but
# within the default tolerance (delta-E 8; 1.5 and 0.7), the mouth is exact
PALETTE = """GIMP Palette
Name: day
246 214 194 skin
 40  90 205 iris
200  40  60 lips
"""
PALETTE_HEX = {"#f6d6c2", "#285acd", "#c8283c"}
HAT_ROW = 9  # a row through the hat (rows 5..16 inside its outline)


def _palette(tmp_path: Path) -> Path:
    p = tmp_path / "day.gpl"
    p.write_text(PALETTE)
    return p


def _hex(colors: np.ndarray) -> set[str]:
    return {"#%02x%02x%02x" % tuple(c[:3]) for c in colors if c[3] > 0}


def _split_hat() -> tuple[np.ndarray, np.ndarray]:
    """The face; its hat colored green above HAT_ROW (smaller part) and lips red below it.
    With the plain line art the hat is one segment, lips red by majority (on the palette);
    the green part only becomes a segment of its own where a line splits the hat."""
    line, gt = draw(96)
    gt = gt.copy()
    hat = np.all(gt == COLORS["hat"], axis=-1)
    rows = np.arange(96)[:, None]
    gt[hat & (rows > HAT_ROW)] = COLORS["mouth"]
    return line, gt


def _with_line(line: np.ndarray, color, x_end: int = 70) -> np.ndarray:
    """A line across the hat (its outline is at columns 26 and 70), ending at ``x_end``."""
    out = line.copy()
    cv2.line(out, (26, HAT_ROW), (x_end, HAT_ROW), color, 1)
    return out


# option set -> (line art whose hat split needs the option, Colorizer keyword arguments)
SPLITS = {
    "trace color": (lambda line: _with_line(line, (255, 255, 0, 255)),
                    {"trace_colors": ["yellow"]}),
    "gap radius": (lambda line: _with_line(line, (0, 0, 0, 255), x_end=68), {"gap_radius": 1}),
}


def _segment_kw(kw: dict) -> dict:
    """Colorizer keyword arguments as segment_line_art's (line options as LineOptions)."""
    out = {k: v for k, v in kw.items() if k not in ("trace_colors", "line_colors")}
    line = {k: tuple(v) for k, v in kw.items() if k in ("trace_colors", "line_colors")}
    return {**out, "line_options": LineOptions(**line)} if line else out


# -- palette ---------------------------------------------------------------------------
def test_palette_snaps_every_fill_and_warns_once_per_off_palette_color(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "ref" / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    logs: list[str] = []
    c = Colorizer("baseline", palette=_palette(tmp_path), log=logs.append)
    ref = c.add_reference(color_file, line_file)
    # the hat's green is far from every entry: snapped to the nearest, and reported
    assert _hex(ref.colors) <= PALETTE_HEX and len(_hex(ref.colors)) == 3
    assert np.all(ref.colors[ref.colors[:, 3] > 0, 3] == 255)
    hat_px = int(np.sum(np.all(gt == COLORS["hat"], axis=-1)))
    assert len(logs) == 1
    assert logs[0].startswith(f"warning: {color_file}: color #1ea03c ({hat_px} px) is delta-E ")
    assert logs[0].endswith("more than --palette-tolerance 8; snapped to it")
    c.add_reference(color_file, line_file)  # the same color again: not reported twice
    assert len(logs) == 1
    (r,) = c.colorize([draw(96, dx=2)[0]])
    assert _hex(r.assignment.colors) <= PALETTE_HEX  # every fill is an exact palette value


def test_palette_warnings_go_to_stderr_without_a_log(tmp_path, capsys):
    line, gt = draw(96)
    c = Colorizer("baseline", palette=_palette(tmp_path))
    c.add_reference(gt, line, name="key")
    err = capsys.readouterr().err
    assert err.startswith("dacon: warning: key: color #1ea03c (") and err.count("\n") == 1


def test_palette_tolerance_decides_what_is_off_palette(tmp_path):
    line, gt = draw(96)
    logs: list[str] = []
    c = Colorizer("baseline", palette=_palette(tmp_path), palette_tolerance=80,
                  log=logs.append)
    ref = c.add_reference(gt, line)
    assert logs == [] and _hex(ref.colors) <= PALETTE_HEX
    tight = Colorizer("baseline", palette=_palette(tmp_path), palette_tolerance=1,
                      log=logs.append)
    tight.add_reference(gt, line, name="key")
    # now the face (delta-E 1.5) is off too; the eyes (0.7) and the mouth (0) are not
    assert sorted(m.split(" (")[0] for m in logs) == [
        "warning: key: color #1ea03c", "warning: key: color #fadcc8"]


def test_strict_palette_refuses_an_off_palette_reference_and_adds_nothing(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "ref" / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    c = Colorizer("baseline", palette=_palette(tmp_path), strict_palette=True)
    with pytest.raises(DaconError) as err:
        c.add_reference(color_file, line_file)
    assert err.value.path == str(color_file)
    assert err.value.problem.startswith("color #1ea03c (")
    assert f"in {tmp_path / 'day.gpl'} (--strict-palette refuses them" in err.value.problem
    assert c.references == [] and c.reference_names() == []
    # checked up front, without adding: the same refusal, nothing kept
    with pytest.raises(DaconError) as early:
        c.check_palette(color_file, line_file)
    assert str(early.value) == str(err.value) and c.references == []
    lenient_logs: list[str] = []
    lenient = Colorizer("baseline", palette=_palette(tmp_path), log=lenient_logs.append)
    lenient.check_palette(color_file, line_file)
    assert len(lenient_logs) == 1 and lenient.references == []


def test_check_palette_without_a_palette_reads_nothing(tmp_path):
    Colorizer("baseline").check_palette(tmp_path / "missing.png")


def test_palette_option_errors(tmp_path):
    with pytest.raises(DaconError, match="--strict-palette needs --palette FILE"):
        Colorizer("baseline", strict_palette=True)
    with pytest.raises(DaconError, match="--palette-tolerance 3 needs --palette FILE"):
        Colorizer("baseline", palette_tolerance=3)
    with pytest.raises(DaconError, match="--palette-tolerance -1: must be a number >= 0"):
        Colorizer("baseline", palette=_palette(tmp_path), palette_tolerance=-1)


# -- gap radius, line options, line art: the same for references and targets ----------------
@pytest.mark.parametrize("option", sorted(SPLITS))
def test_reference_segments_follow_the_colorizer_options(tmp_path, option):
    """The hat's green part is a segment of its own (and so refused by a strict palette)
    only where the option is applied: references from arrays and from files, and the
    up-front palette check, all honour it."""
    make_line, kw = SPLITS[option]
    line, gt = _split_hat()
    split = make_line(line)
    color_file = save(tmp_path / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", split)
    strict = {"palette": _palette(tmp_path), "strict_palette": True}
    plain = Colorizer("baseline", **strict)
    plain.add_reference(gt, split)  # without the option the hat stays one segment
    plain.add_reference(color_file, line_file)
    plain.check_palette(color_file, line_file)
    c = Colorizer("baseline", **strict, **kw)
    for call in (lambda: c.add_reference(gt, split), lambda: c.add_reference(color_file,
                 line_file), lambda: c.check_palette(color_file, line_file)):
        with pytest.raises(DaconError, match="color #1ea03c"):
            call()
    assert c.references == []
    loose = Colorizer("baseline", **kw)
    n = segment_line_art(split, **_segment_kw(kw))[1]
    assert n != segment_line_art(split)[1] == plain.references[0].frame.n_segments
    assert loose.add_reference(gt, split).frame.n_segments == n
    assert loose.add_reference(color_file, line_file).frame.n_segments == n


def test_reference_segments_come_from_its_line_art_when_given(tmp_path):
    """The line art decides the segments: the split hat colors are one segment there,
    though the colored frame alone (no line art) would split them."""
    line, gt = _split_hat()
    color_file = save(tmp_path / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    c = Colorizer("baseline", palette=_palette(tmp_path), strict_palette=True)
    assert c.add_reference(gt, line).frame.n_segments == segment_line_art(line)[1]
    ref = c.add_reference(color_file, line_file)
    assert ref.frame.path == line_file and ref.color_path == color_file
    c.check_palette(color_file, line_file)
    with pytest.raises(DaconError, match="color #1ea03c"):
        c.check_palette(color_file)  # without line art: segments from the colors


def test_named_references_from_files(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "0007.png", gt)
    c = Colorizer("baseline")
    assert c.add_reference(color_file).name == "0007"
    assert c.add_reference(color_file, name="key A").name == "key A"
    assert c.reference_names() == ["0007", "key A"]


@pytest.mark.parametrize("option", sorted(SPLITS))
def test_targets_are_segmented_with_the_colorizer_options(option):
    make_line, kw = SPLITS[option]
    line, gt = draw(96)
    split = make_line(line)
    n = segment_line_art(split, **_segment_kw(kw))[1]
    assert n != segment_line_art(split)[1]
    c = Colorizer("baseline", **kw)
    c.add_reference(gt, line)
    assert c.load_target(split).n_segments == n
    (r,) = c.colorize([split])
    assert r.frame.n_segments == n == len(r.assignment.colors)


def test_default_gap_radius_closes_nothing():
    line, gt = draw(96)
    gapped = _with_line(line, (0, 0, 0, 255), x_end=68)  # a 1-px gap to the hat's outline
    assert segment_line_art(gapped)[1] != segment_line_art(gapped, gap_radius=1)[1]
    c = Colorizer("baseline")
    assert c.gap_radius == 0
    np.testing.assert_array_equal(c.load_target(gapped).labels, segment_line_art(gapped)[0])


def test_line_option_errors_name_the_option():
    with pytest.raises(DaconError, match="--trace-color nocolor"):
        Colorizer("baseline", trace_colors=["nocolor"])
    with pytest.raises(DaconError, match="--line-color nocolor"):
        Colorizer("baseline", line_colors=["nocolor"])
    with pytest.raises(DaconError, match="--line-mode sharp: unknown mode"):
        Colorizer("baseline", line_mode="sharp")
    with pytest.raises(DaconError, match="--gap-radius -1: must be a whole number >= 0"):
        Colorizer("baseline", gap_radius=-1)


# -- out of memory ------------------------------------------------------------------------
class OutOfMemoryGPU:
    """A baseline featurizer 'on a GPU' that runs out of memory until it is on the CPU
    (or always, with ``fail_until="never"``)."""

    def __init__(self, fail_until: str = "cpu", error=None):
        self.inner = build_featurizer("baseline")
        self.name = self.inner.name
        self.batch_size = 4
        self.pool_cap = 512
        self.device = torch.device("cuda")
        self.fail_until = fail_until
        self.error = error
        self.calls = 0

    def to_device(self, device):
        self.device = torch.device(device)

    def segment_features(self, frames):
        self.calls += 1
        if self.error is not None:
            raise self.error
        if self.device.type != self.fail_until:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.segment_features(frames)

    def similarity(self, a, b):
        return self.inner.similarity(a, b)


def test_out_of_memory_degrades_step_by_step_and_logs_each_step(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "ref" / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    logs: list[str] = []
    c = Colorizer(OutOfMemoryGPU(), log=logs.append)
    c.add_reference(color_file, line_file)
    assert logs == ["out of memory on 0001.png; retrying with batch size 1",
                    "out of memory on 0001.png; retrying with pooling grid 256",
                    "out of memory on 0001.png; retrying with the CPU"]
    want = Colorizer("baseline")
    want.add_reference(color_file, line_file)
    (a,), (b,) = c.colorize([line]), want.colorize([line])
    np.testing.assert_array_equal(a.assignment.colors, b.assignment.colors)
    # without a log the fallback still happens, silently
    quiet = Colorizer(OutOfMemoryGPU())
    quiet.add_reference(gt, line)
    assert quiet.featurizer.device.type == "cpu"


def test_out_of_memory_on_the_cpu_is_one_clear_error(tmp_path):
    line, gt = draw(96)
    files = [save(tmp_path / f"{k:04d}.png", line) for k in (1, 2)]
    named = SegmentedFrame(line, *segment_line_art(line), path=files[1])
    c = Colorizer("baseline")
    c.add_reference(gt, line)
    c.featurizer = OutOfMemoryGPU(fail_until="never")
    with pytest.raises(DaconError) as err:
        list(c.colorize([files[0], named, line], batch_size=3))
    assert str(err.value) == ("out of memory on 0001.png, 0002.png, an in-memory frame even "
                              "on the CPU (try smaller frames)")
    assert c.featurizer.calls == 4  # the first try and one per fallback step


def test_other_featurizer_errors_are_not_retried():
    line, gt = draw(96)
    broken = OutOfMemoryGPU(error=ValueError("bad input"))
    c = Colorizer(broken)
    with pytest.raises(ValueError, match="bad input"):
        c.add_reference(gt, line)
    assert broken.calls == 1 and broken.batch_size == 4 and broken.device.type == "cuda"


# -- lean references ------------------------------------------------------------------------
def test_lean_references_keep_paths_and_line_art_record_but_no_pixels(tmp_path):
    line, gt = draw(96)
    color_file = save(tmp_path / "0001.png", gt)
    line_file = save(tmp_path / "line" / "0001.png", line)
    full = Colorizer("baseline").add_reference(color_file, line_file)
    lean = Colorizer("baseline", keep_reference_images=False).add_reference(color_file,
                                                                           line_file)
    assert lean.frame.line.shape == (0, 0, 4) and lean.frame.line.dtype == np.uint8
    assert lean.frame.labels.shape == (0, 0) and lean.frame.labels.dtype == np.int32
    assert lean.frame.n_segments == full.frame.n_segments
    assert lean.frame.path == full.frame.path == line_file
    assert lean.color_path == full.color_path == color_file
    # a prepared reference (here a segmented target) keeps its line-art record too
    c = Colorizer("baseline", keep_reference_images=False)
    frame = c.load_target(line)
    assert frame.line_art["threshold"] == 128
    kept = c.add_reference(Reference(frame, full.colors, name="prepared"))
    assert kept.frame.line_art == frame.line_art and kept.frame.line.size == 0


# -- chains and banks -------------------------------------------------------------------------
class Recording:
    """The baseline featurizer, recording how many frames each call got."""

    def __init__(self):
        self.inner = build_featurizer("baseline")
        self.name = self.inner.name
        self.batches: list[int] = []

    def segment_features(self, frames):
        self.batches.append(len(frames))
        return self.inner.segment_features(frames)

    def similarity(self, a, b):
        return self.inner.similarity(a, b)


def _frames(n: int, first: int = 1) -> list[SegmentedFrame]:
    line = draw(96)[0]
    return [SegmentedFrame(line, *segment_line_art(line), path=Path(f"{k:04d}.png"))
            for k in range(first, first + n)]


def _ref_colorizer(featurizer="baseline", name: str = "ref") -> Colorizer:
    line, gt = draw(96, scale=1.25)
    c = Colorizer(featurizer)
    c.add_reference(gt, line, name=name)
    return c


def test_frames_go_to_the_model_four_at_a_time_by_default():
    rec = Recording()
    c = _ref_colorizer(rec)
    list(c.colorize(_frames(9)))
    assert rec.batches == [1, 1, 4, 4, 1]  # the reference, its mirror, then the frames
    rec.batches.clear()
    plain = Colorizer(rec, mirror=False)
    plain.add_reference(*reversed(draw(96, scale=1.25)))
    assert rec.batches == [1]


def test_each_result_is_its_own_target_in_order():
    c = _ref_colorizer()
    sizes = [64, 80, 96, 72]
    targets = [draw(s)[0] for s in sizes]
    results = list(c.colorize(targets, batch_size=1))
    assert [r.frame.line.shape[0] for r in results] == sizes
    for r, t in zip(results, targets):
        np.testing.assert_array_equal(r.frame.line, t)
        want = c.featurizer.segment_features([r.frame])[0]
        torch.testing.assert_close(r.features, want)
        assert r.features.shape[0] == r.frame.n_segments


def test_keyframe_mode_keeps_frame_order_even_with_frame_numbers():
    c = _ref_colorizer(name="0003.png")
    assert [r.index for r in c.colorize(_frames(4), mode="keyframe")] == [0, 1, 2, 3]


def test_a_full_chain_never_asks_for_a_seed():
    c = _ref_colorizer()
    asked: list = []
    results = list(c.colorize(_frames(3), mode="consecutive",
                              chain_seed=lambda i: asked.append(i)))
    assert asked == []
    assert set(results[0].assignment.ref_index.tolist()) == {0}
    assert set(results[2].assignment.ref_index.tolist()) == {1 + 1}
    assert list(c.colorize(_frames(3), chain_seed=lambda i: asked.append(i))) and asked == []


def _alive(refs: list) -> list[bool]:
    gc.collect()
    return [r() is not None for r in refs]


def test_a_colored_frame_is_released_once_the_frame_chained_to_it_is_done():
    """Memory stays flat in the clip length: a frame's features are kept for the next
    frame's bank only, then dropped (the caller has dropped the result)."""
    c = _ref_colorizer()
    gen = c.colorize(_frames(5), mode="consecutive", batch_size=1)
    refs = []
    for k in range(4):
        r = next(gen)
        refs.append(weakref.ref(r.features))
        del r
    # frames 0..1 are chained to and done; frame 2 is the bank of the one in progress
    assert _alive(refs)[:2] == [False, False]
    gen.close()


def test_a_frame_nobody_chains_to_is_not_kept():
    """nearest mode, reference at frame 2: frame 1 (done second) has no later neighbour."""
    c = _ref_colorizer(name="0002.png")
    gen = c.colorize(_frames(5), mode="nearest", batch_size=1)
    first = next(gen)
    second = next(gen)
    assert (first.index, second.index) == (1, 0)
    w = weakref.ref(second.features)
    del first, second
    next(gen), next(gen)
    assert _alive([w]) == [False]
    gen.close()


def _loaders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dacon-load")]


def test_the_loader_thread_ends_with_the_call():
    c = _ref_colorizer()
    before = _loaders()
    gen = c.colorize(_frames(4), batch_size=1)
    next(gen)
    assert len(_loaders()) == len(before) + 1  # reads the next frames meanwhile
    gen.close()  # cancelled between frames
    assert _loaders() == before
    list(c.colorize(_frames(2), batch_size=1))
    assert _loaders() == before



def test_cancelling_waits_for_the_frame_being_read():
    c = _ref_colorizer()
    before = _loaders()
    read = c.load_target

    def slow_read(target, name=None):
        time.sleep(0.3)
        return read(target, name)

    c.load_target = slow_read
    gen = c.colorize(_frames(3), batch_size=1)
    next(gen)  # the loader is reading the second frame now
    gen.close()
    assert _loaders() == before  # the read in flight ended with the call

# -- names, errors, timings ---------------------------------------------------------------
def test_bank_sources_name_references_then_target_frames():
    c = _ref_colorizer()
    line = draw(96)[0]
    assert c.source_name(0, []) == "ref"
    assert c.source_name(1, ["a/0005.png"]) == "0005"
    assert c.source_name(1 + 2, [line, line, line]) == "frame0002"


def test_argument_errors_say_what_is_allowed():
    c = Colorizer("baseline")
    with pytest.raises(DaconError) as err:
        list(c.colorize([draw(96)[0]]))
    assert str(err.value) == "no references: add at least one colored reference frame"
    with pytest.raises(DaconError) as err:
        list(c.colorize([draw(96)[0]], mode="forward"))
    assert str(err.value) == ("unknown mode 'forward' (choose from keyframe, consecutive, "
                              "nearest)")


def test_timings_are_seconds_actually_spent(tmp_path):
    t0 = time.perf_counter()
    c = _ref_colorizer()
    list(c.colorize([draw(96)[0]] * 2))
    wall = time.perf_counter() - t0
    assert set(c.timings) == {"features", "segment", "graph", "match"}
    assert 0 < sum(c.timings.values()) <= wall


# -- processing order -------------------------------------------------------------------------
def test_nearest_order_in_edge_cases():
    names = [f"{n:04d}.png" for n in (1, 2, 3)]
    # the reference is the first frame: each frame chains to the one before it
    assert processing_order(names, ["0001.png"], "nearest") == [(0, None), (1, 0), (2, 1)]
    # targets given out of frame order: chained by frame number, not by position
    assert processing_order(["0003.png", "0001.png", "0002.png"], ["0001.png"],
                            "nearest") == [(1, None), (2, 1), (0, 2)]
    # frames either side of a reference that is not among them: both from the reference
    assert processing_order(["0003.png", "0007.png"], ["0005.png"], "nearest") == [
        (0, None), (1, None)]
    # in-memory frames are numbered by position (frame0000, frame0001, ...)
    line = draw(64)[0]
    assert processing_order([line, line, line], ["0001.png"], "nearest") == [
        (1, None), (0, 1), (2, 1)]


# -- models and devices -------------------------------------------------------------------------
def test_the_default_model_on_the_best_device_unless_told():
    c = Colorizer()
    assert c.model_name.startswith("default: ")
    assert build_featurizer() is c.featurizer  # the same cached model, device "auto"
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert c.featurizer.device.type == want


def test_a_device_this_machine_lacks_is_refused():
    with pytest.raises(DaconError, match=r"--device tpu: unknown device \(this machine has: "):
        Colorizer("default", device="tpu")


def test_a_checkpoint_file_is_a_model(tmp_path):
    from dacon_engine.model.network import DaconConfig, DaconNet
    from dacon_engine.model.registry import save_checkpoint

    torch.manual_seed(0)
    ck = tmp_path / "tiny.pt"
    save_checkpoint(DaconNet(DaconConfig(mode="unet", unet_base=4, unet_input=64,
                                         feat_dim=16)), ck)
    by_path, by_name = Colorizer(ck, device="cpu"), Colorizer(str(ck), device="cpu")
    assert by_path.featurizer is by_name.featurizer
    assert not by_path.model_name.startswith("default")
    line, gt = draw(96)
    by_path.add_reference(gt, line)
    assert len(by_path.bank()) == by_path.references[0].frame.n_segments


def test_the_dinov2_weights_given_are_the_ones_read(tmp_path, monkeypatch):
    monkeypatch.delenv("DACON_DINOV2_WEIGHTS", raising=False)
    missing = tmp_path / "dinov2_vits14.pth"
    with pytest.raises(DaconError) as err:
        Colorizer("zeroshot-dinov2", device="cpu", dinov2_weights=str(missing))
    assert err.value.path == str(missing) and "DINOv2 weights not found" in err.value.problem
    with pytest.raises(DaconError) as err:
        build_featurizer("zeroshot-dinov2", device="cpu", dinov2_weights=str(missing))
    assert err.value.path == str(missing)
