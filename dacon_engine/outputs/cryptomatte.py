"""Cryptomatte layers for the EXR output (Cryptomatte specification 1.1.0, Psyop).

A layer ``T`` holds ID/coverage pairs per pixel in channels ``T00.R`` (id rank 0),
``T00.G`` (coverage rank 0), ``T00.B`` (id rank 1) and ``T00.A`` (coverage rank 1), all
32-bit float. Our fills are flat, so each painted pixel has exactly one id with coverage
1 and rank 1 is empty; line pixels and transparent segments have no id (0, coverage 0).

IDs: MurmurHash3_x86_32 (seed 0) of the UTF-8 name, as uint32, whose bits are read as a
float32 after the exponent is kept inside [1, 254] (bit 23 flipped when the exponent is 0
or 255, so no id is a denormal, an infinity or a NaN). The header carries, under a key made
of the first 7 hex digits of the layer name's hash (as Blender writes it):
``cryptomatte/<key>/name`` = T, ``/hash`` = ``MurmurHash3_32``, ``/conversion`` =
``uint32_to_float32`` and ``/manifest`` = JSON ``{name: "<8 hex digits of the id's bits>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

HASH = "MurmurHash3_32"
CONVERSION = "uint32_to_float32"


def name_hash(name: str) -> int:
    """MurmurHash3_x86_32, seed 0, of the UTF-8 name, as an unsigned 32-bit int."""
    import mmh3

    return mmh3.hash(name.encode("utf-8"), 0, signed=False)


def id_bits(name: str) -> int:
    """The float32 bit pattern of ``name``'s id (exponent kept inside [1, 254])."""
    h = name_hash(name)
    exponent = (h >> 23) & 0xFF
    if exponent in (0, 255):
        h ^= 1 << 23
    return h


def name_id(name: str) -> np.float32:
    """``name``'s id as the float32 stored in the image."""
    return np.array([id_bits(name)], np.uint32).view(np.float32)[0]


def layer_key(layer: str) -> str:
    """The metadata key of a layer: the first 7 hex digits of its name's hash."""
    return f"{name_hash(layer):08x}"[:7]


def manifest(names: Sequence[str]) -> dict[str, str]:
    """name -> the 8 hex digits of its id's float bits."""
    return {n: f"{id_bits(n):08x}" for n in dict.fromkeys(names)}


def crypto_layer(layer: str, labels: np.ndarray, label_names: dict[int, str],
                 ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Channels and header attributes of one Cryptomatte layer (one rank pair).

    labels: HxW int; label_names: {label: name} for the labels that get an id (others,
    e.g. 0 = line, get none). Returns (``{T00.R/G/B/A: contiguous HxW float32}``, header
    strings).
    """
    labels = np.asarray(labels)
    bits = {n: id_bits(n) for n in dict.fromkeys(label_names.values())}
    top = max(int(labels.max(initial=0)), max(label_names, default=0))
    lut = np.zeros(top + 1, np.uint32)
    if label_names:
        keys = np.fromiter(label_names.keys(), np.int64, len(label_names))
        lut[keys] = np.fromiter((bits[n] for n in label_names.values()), np.uint32,
                                len(label_names))
    px = lut[labels]
    zeros = np.zeros(labels.shape, np.float32)
    channels = {
        f"{layer}00.R": np.ascontiguousarray(px.view(np.float32)),
        f"{layer}00.G": np.ascontiguousarray((px != 0).astype(np.float32)),
        f"{layer}00.B": zeros,
        f"{layer}00.A": zeros.copy(),
    }
    key = f"cryptomatte/{layer_key(layer)}"
    header = {
        f"{key}/name": layer,
        f"{key}/hash": HASH,
        f"{key}/conversion": CONVERSION,
        f"{key}/manifest": json.dumps({n: f"{b:08x}" for n, b in bits.items()},
                                      ensure_ascii=False, separators=(",", ":")),
    }
    return channels, header


__all__ = ["crypto_layer", "id_bits", "layer_key", "manifest", "name_hash", "name_id"]
