"""Where and in what precision the network runs.

The choice is made once per job and reported to the user (status bar, CLI summary), so the
label says exactly what runs: "CUDA: <card> (bf16)" or "CPU (fp32)".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from core.errors import InferenceError

log = logging.getLogger(__name__)

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None: plain fp32
    channels_last: bool

    @property
    def precision(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[self.autocast_dtype]

    @property
    def label(self) -> str:
        if self.device.type == "cuda":
            return f"CUDA: {torch.cuda.get_device_name(self.device)} ({self.precision})"
        return f"{self.device.type.upper()} ({self.precision})"


@cache
def cpu_has_native_bf16() -> bool:
    """bf16 only pays on CPUs that compute it natively; elsewhere it is emulated and slower."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def choose_device(name: str = "auto", precision: str = "auto") -> DeviceChoice:
    """Pick CUDA, then Apple MPS, then the CPU; ``precision`` may force "fp32"."""
    if name not in DEVICE_NAMES:
        raise InferenceError(f"Unknown device {name!r}: use one of {', '.join(DEVICE_NAMES)}.")
    if name == "cuda" and not torch.cuda.is_available():
        raise InferenceError("No CUDA GPU is available here: use --device cpu or auto.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise InferenceError("Apple MPS is not available here: use --device cpu or auto.")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    dtype = None if precision == "fp32" else _reduced_precision(device)
    return DeviceChoice(device=device, autocast_dtype=dtype, channels_last=device.type != "mps")


def _reduced_precision(device: torch.device) -> torch.dtype | None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None
