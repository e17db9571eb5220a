"""``dacon recolor``: swap the palette of a finished shot without running the model.

Each frame's JSON record names every segment's palette entry (``palette_entry``; records
written before palettes existed are named by their color, ``#rrggbb``). The new palette
must hold every name the shot uses: names it lacks are all reported in one line and
nothing is written. Then, frame by frame, the colored PNG and EXR are rewritten with the
new values (line pixels and transparent segments untouched; the EXR's other channels and
its Cryptomatte stay, since the names do not change) and the record's colors updated; a
frame's files are replaced together (temp files renamed into place once all are written).

Which pixel belongs to which segment comes from the EXR's ``segment.id`` channel; a shot
written without EXR has its line art (the record's ``frame.source``) segmented again with
the recorded line-art settings, and its segment count and areas must match the record.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DaconError
from ..fileio.files import is_temp_name, same_folder, sorted_by_frame
from ..matching.palette import Palette, load_palette, segment_names
from .records import frame_labels, read_record

PathLike = str | os.PathLike


@dataclass
class _Frame:
    stem: str
    record_path: Path
    record: dict
    names: list[str | None]
    png: Path | None
    exr: Path | None


def _names(rec: dict) -> list[str | None]:
    segs = sorted(rec["segments"], key=lambda s: s["id"])
    if all("palette_entry" in s for s in segs):
        return [s["palette_entry"] for s in segs]
    return segment_names(np.asarray([s["color"] for s in segs], np.uint8).reshape(-1, 4))


def plan_recolor(out_dir: PathLike, palette: PathLike | Palette) -> tuple[Palette, list[_Frame]]:
    """Every check, before anything is written: the frames to rewrite and the palette."""
    out = Path(out_dir)
    pal = load_palette(palette)
    if not out.is_dir():
        raise DaconError(out, "no such output folder")
    frames: list[_Frame] = []
    for path in sorted_by_frame(p for p in out.glob("*.json") if not is_temp_name(p.name)):
        rec = read_record(path)
        if rec is None:
            continue
        png, exr = out / f"{path.stem}.png", out / f"{path.stem}.exr"
        png_ok, exr_ok = png.is_file(), exr.is_file()
        if not png_ok and not exr_ok:
            raise DaconError(path, "has no colored PNG or EXR beside it to recolor")
        src = (rec.get("frame") or {}).get("source")
        if src and Path(src).name == png.name and same_folder(Path(src).parent, out):
            raise DaconError(png, "is its own line art (the record's source): recoloring "
                                  "would rewrite the line art; nothing was rewritten")
        if not exr_ok:
            if not src or not Path(src).is_file():
                raise DaconError(png, "cannot tell its segments apart: no EXR beside it "
                                      f"(segment.id) and its line art {src!r} is gone")
        frames.append(_Frame(path.stem, path, rec, _names(rec), png if png_ok else None,
                             exr if exr_ok else None))
    if not frames:
        raise DaconError(out, "holds no colorize JSON records to recolor")
    missing: dict[str, str] = {}
    for f in frames:
        for n in f.names:
            if n is not None and pal.index(n) is None and n not in missing:
                missing[n] = f.record_path.name
    if missing:
        shown = ", ".join(f"{n!r} (first in {where})" for n, where in list(missing.items())[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise DaconError(pal.source, f"{len(missing)} name(s) the shot uses are not in this "
                                     f"palette: {shown}{more}; nothing was rewritten")
    return pal, frames


def _recolor_frame(f: _Frame, pal: Palette) -> list[Path]:
    from ..fileio.files import atomic_path
    from ..fileio.images import read_image, srgb_to_linear, write_png_to
    from .write import read_exr_header, read_exr_outputs, write_exr

    segs = sorted(f.record["segments"], key=lambda s: s["id"])
    old = np.asarray([s["color"] for s in segs], np.uint8).reshape(-1, 4)
    new = old.copy()
    for i, n in enumerate(f.names):
        if n is not None:
            new[i, :3] = pal.colors[pal.index(n)]
            new[i, 3] = 255
    lut = np.zeros((len(new) + 1, 4), np.uint8)
    lut[1:] = new
    exr = read_exr_outputs(f.exr) if f.exr is not None else None
    if exr is not None:
        if "segment.id" not in exr:
            raise DaconError(f.exr, "has no segment.id channel; cannot recolor it")
        labels = exr["segment.id"].astype(np.int64)
    else:
        labels = frame_labels(f.record_path, f.record)
    if labels.max(initial=0) > len(new):
        raise DaconError(f.exr or f.png, "segment ids exceed the record's segments")
    fill = labels > 0
    rgba = lut[labels]

    writes: list[tuple[Path, Callable[[Path], None]]] = []
    if f.png is not None:
        png = read_image(f.png)
        if png.shape[:2] != labels.shape:
            raise DaconError(f.png, "size differs from its segments")
        png[fill] = rgba[fill]
        writes.append((f.png, lambda tmp: write_png_to(tmp, png, name=f.png)))
    if exr is not None and f.exr is not None:
        header = {k: v for k, v in read_exr_header(f.exr).items()
                  if isinstance(v, str) and k.startswith(("dacon_", "cryptomatte/"))}
        header["dacon_palette"] = pal.source or ""
        fl = rgba.astype(np.float32) / np.float32(255.0)
        lin = srgb_to_linear(fl[:, :, :3]) * fl[:, :, 3:4]
        for c, k in (("R", 0), ("G", 1), ("B", 2)):
            exr[c] = np.where(fill, lin[:, :, k], exr[c]).astype(exr[c].dtype)
        exr["A"] = np.where(fill, fl[:, :, 3], exr["A"]).astype(exr["A"].dtype)
        exr_path = f.exr
        writes.append((exr_path, lambda tmp: write_exr(tmp, exr, header)))
    rec = dict(f.record)
    rec["segments"] = [dict(s, color=c) for s, c in zip(segs, new.tolist())]
    rec["palette"] = {"source": pal.source, "entries": pal.entries()}
    text = json.dumps(rec, indent=1) + "\n"
    writes.append((f.record_path, lambda tmp: tmp.write_text(text, encoding="utf-8")))

    with contextlib.ExitStack() as stack:  # all files of the frame, renamed at the end
        for dest, write in writes:
            tmp = stack.enter_context(atomic_path(dest, overwrite=True))
            try:
                write(tmp)
            except OSError as e:
                raise DaconError(dest, f"cannot write ({e.strerror or e})") from None
            except (RuntimeError, ValueError, TypeError) as e:
                raise DaconError(dest, f"cannot write ({e})") from None
    return [d for d, _ in writes]


def recolor_shot(out_dir: PathLike, palette: PathLike | Palette, *,
                 on_frame: Callable[[str, int, int], None] | None = None) -> dict:
    """Rewrite a finished shot with another palette of the same names (see the module)."""
    pal, frames = plan_recolor(out_dir, palette)
    written: list[str] = []
    for k, f in enumerate(frames, 1):
        written += [str(p) for p in _recolor_frame(f, pal)]
        if on_frame is not None:
            on_frame(f.stem, k, len(frames))
    return {"frames": len(frames), "palette": pal.source, "files": written}


__all__ = ["plan_recolor", "recolor_shot"]
