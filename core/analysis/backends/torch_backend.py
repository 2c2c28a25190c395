"""The PyTorch engine: the GPU path, and the CPU fallback where OpenVINO cannot load."""

from __future__ import annotations

import numpy as np
import torch

from core.analysis.backends.base import EngineOutput, Pending
from core.model.device import DeviceChoice
from core.model.network import C3D_BN
from core.model.preprocess import clips_to_tensor
from core.model.spec import InputSpec
from core.model.track_heads import TrackedC3D


class TorchEngine:
    backend = "torch"

    def __init__(self, model: C3D_BN, spec: InputSpec, device: DeviceChoice, note: str = "") -> None:
        """``model`` must already be prepared for ``device`` (eval mode, memory format);
        ``note`` says why this engine runs when another was wanted."""
        self.model = model
        self.note = note
        self.spec = spec
        self.device = device
        self.precision = device.precision
        # On CUDA the short last batch keeps its full (stale-padded) size so cudnn.benchmark
        # never re-tunes for a new shape; elsewhere padding would only waste work.
        self.pads_batches = device.device.type == "cuda"

    @property
    def label(self) -> str:
        suffix = f" ({self.note})" if self.note else ""
        return f"{self.device.label} · PyTorch{suffix}"

    def submit(self, clips: np.ndarray, want_features: bool) -> Pending:
        """Computed at once: a PyTorch call already uses every core, or on CUDA ends in the
        copy back to the host."""
        out = self.run(clips, want_features)
        return lambda: out

    def run(self, clips: np.ndarray, want_features: bool) -> EngineOutput:
        x = clips_to_tensor(clips, self.spec, self.device.device, self.device.channels_last)
        tracked = isinstance(self.model, TrackedC3D)
        pool5 = fc7 = None
        with torch.inference_mode(), _autocast(self.device):
            if want_features or tracked:
                # One trunk pass; every track's head reads its fc7 (pool5 and fc7 come with it).
                out = self.model.forward_features(x)
                probs_t = self.model.output_probs(out) if tracked else torch.softmax(out.logits.float(), 1)
                pool5, fc7 = (out.pool5, out.fc7) if want_features else (None, None)
            else:
                probs_t = torch.softmax(self.model(x).float(), dim=1)
        probs = probs_t.float().cpu().numpy().astype(np.float32)
        return EngineOutput(
            probs=probs,
            pool5=None if pool5 is None else pool5.to(torch.float16).cpu().numpy(),
            fc7=None if fc7 is None else fc7.to(torch.float16).cpu().numpy(),
        )


def _autocast(device: DeviceChoice) -> torch.autocast:
    dtype = device.autocast_dtype
    return torch.autocast(device.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
