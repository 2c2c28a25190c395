"""How frames become network input. The spec travels with every checkpoint.

A model is only meaningful together with the preprocessing it was trained with, so inference
always applies the checkpoint's own spec rather than a global setting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

WINDOW_LENGTH = 16
"""Frames per clip: C3D's temporal extent."""

CLIP_SIZE = 112
"""Spatial side of the network's input."""


@dataclass(frozen=True)
class InputSpec:
    """Preprocessing of one BGR uint8 frame into one slice of a clip.

    Pixels are first scaled by ``scale`` (1/255 to get [0, 1], or 1 to keep 0–255), then the
    per-channel ``mean`` is subtracted and the result divided by ``std``; both are given in
    ``color_order``. ``resize`` is (height, width); ``crop`` is a centred square side or None.
    """

    color_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.43216, 0.394666, 0.37645)
    std: tuple[float, float, float] = (0.22803, 0.22145, 0.216989)
    resize: tuple[int, int] = (CLIP_SIZE, CLIP_SIZE)
    crop: int | None = None
    window: int = WINDOW_LENGTH

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of a preprocessed frame."""
        if self.crop is None:
            return self.resize
        return (self.crop, self.crop)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InputSpec:
        raw = json.loads(text)
        return cls(
            color_order=raw["color_order"],
            scale=float(raw["scale"]),
            mean=tuple(float(v) for v in raw["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in raw["std"]),  # type: ignore[arg-type]
            resize=(int(raw["resize"][0]), int(raw["resize"][1])),
            crop=None if raw["crop"] is None else int(raw["crop"]),
            window=int(raw["window"]),
        )


DEFAULT_SPEC = InputSpec()
"""New models keep the whole frame (no crop), so events at the edges are not cut away."""

SPORTS1M_SPEC = InputSpec(
    color_order="BGR",
    scale=1.0,
    mean=(90.25, 97.66, 101.41),
    std=(1.0, 1.0, 1.0),
    resize=(128, 171),
    crop=CLIP_SIZE,
)
"""The C3D paper's preprocessing: BGR 0–255 minus the Sports-1M mean, 128×171, centre crop 112."""
