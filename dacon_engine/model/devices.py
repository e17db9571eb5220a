"""Which compute devices this machine has, and checking a requested one up front."""

from __future__ import annotations

import torch

from ..errors import DaconError


def available_devices() -> list[dict]:
    """The CPU and every CUDA device torch sees: name, label, memory (bytes, GPUs only)."""
    out: list[dict] = [{"name": "cpu", "label": "CPU", "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            entry = {"name": f"cuda:{i}", "label": props.name,
                     "memory_total": int(props.total_memory)}
            try:
                free, _ = torch.cuda.mem_get_info(i)
                entry["memory_free"] = int(free)
            except RuntimeError:
                pass
            out.append(entry)
    return out


def device_names() -> list[str]:
    return [d["name"] for d in available_devices()]


def check_device(device: str | torch.device, option: str = "--device") -> torch.device:
    """A torch.device this machine can run, else DaconError naming the devices it has."""
    have = ", ".join(["auto"] + device_names())
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DaconError(None, f"{option} {device!s}: unknown device (this machine has: "
                               f"{have})") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DaconError(None, f"{option} {device!s}: no CUDA GPU is usable by torch here "
                                   f"(this machine has: {have})")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DaconError(None, f"{option} {device!s}: no such GPU (this machine has: "
                                   f"{have})")
        return dev
    raise DaconError(None, f"{option} {device!s}: not supported (this machine has: {have})")
