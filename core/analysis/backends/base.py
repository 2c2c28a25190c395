"""What every engine offers: one pass over uint8 clips giving probabilities and features.

The analysis loop only knows this interface, so the backend (PyTorch, OpenVINO) and its
precision are chosen once per job and never leak into decoding, batching or the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

PRECISIONS = ("auto", "fp32", "int8")
"""What a user may ask for: ``auto`` takes int8 only when a verified variant exists."""


@dataclass(frozen=True)
class EngineOutput:
    probs: np.ndarray  # float32 (N, C), softmax
    pool5: np.ndarray | None  # float16 (N, 8192)
    fc7: np.ndarray | None  # float16 (N, 4096)


Pending = Callable[[], EngineOutput]
"""A submitted batch: calling it waits for the batch and returns its output (once)."""


class Engine(Protocol):
    backend: str
    """"torch" or "openvino"."""
    precision: str
    """What computes the numbers: "fp32", "bf16", "fp16" or "int8"."""
    pads_batches: bool
    """Run the short last batch at full size (stale rows) so a tuned kernel is reused."""

    @property
    def label(self) -> str:
        """What the status bar and the CLI show, e.g. "CPU · OpenVINO int8 (verified)"."""
        ...

    def run(self, clips: np.ndarray, want_features: bool) -> EngineOutput:
        """(N, T, H, W, 3) uint8 clips → one output row per clip."""
        ...

    def submit(self, clips: np.ndarray, want_features: bool) -> Pending:
        """Start ``run`` on a batch and return at once where the engine can compute in the
        background (at most two batches pending); the analysis loop submits the next batch
        before it stores the last, so the engine never waits for the loop."""
        ...


def features_tag(engine: Engine) -> str:
    """Suffix for feature-cache keys: features an int8 trunk made never pass for fp32 ones."""
    return "" if engine.precision in ("fp32", "bf16", "fp16") else engine.precision
