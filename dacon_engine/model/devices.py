"""Which compute devices this machine has, checking a requested one up front, and which
inference precision each runs natively."""

from __future__ import annotations

import torch

from ..errors import DaconError
from ..options import PRECISIONS


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


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast speeds this device up: CUDA with bf16, or a CPU with native
    bf16 (AVX512-BF16 / AMX). On AVX2-only CPUs bf16 is emulated and about 10x slower."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def resolve_precision(precision: str, device: torch.device,
                      option: str = "--precision") -> str:
    """The precision the network runs in on ``device``: "auto" -> "bf16" where the device
    runs bf16 natively, else "fp32". An explicit "bf16" on a device that would only
    emulate it (about 10x slower than fp32) is refused: DaconError naming the option."""
    if precision not in PRECISIONS:
        raise DaconError(None, f"{option} {precision}: unknown precision (choose from "
                               f"{', '.join(PRECISIONS)})")
    if precision == "fp32":
        return "fp32"
    native = bf16_is_fast(device)
    if precision == "bf16" and not native:
        raise DaconError(None, f"{option} bf16: {device.type} here has no native bf16 "
                               "(needs AVX512-BF16/AMX or a bf16 GPU; use auto or fp32)")
    return "bf16" if native else "fp32"


def running_precision(precision: str, device: torch.device) -> str:
    """What the network runs in for a checked ``precision`` on ``device`` now: "bf16" or
    "fp32" (an explicit bf16 the device cannot run natively, only reachable after an
    out-of-memory move to the CPU, runs fp32)."""
    return "bf16" if precision != "fp32" and bf16_is_fast(device) else "fp32"
