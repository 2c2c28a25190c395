"""Frames to network input, split in two so each frame is resized once.

``prepare_frame`` runs once per decoded frame in the producer thread and keeps uint8 (4× less
memory than float in the ring buffer); ``clips_to_tensor`` normalises a whole batch at once on
the target device. A (B, T, H, W, C) uint8 batch permuted to (B, C, T, H, W) is exactly the
channels_last_3d layout, so no copy is needed to feed the network in that format.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from core.model.spec import InputSpec


def prepare_frame(frame_bgr: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Resize, centre-crop and reorder one BGR frame; returns uint8 (H, W, 3)."""
    height, width = spec.resize
    shrinking = frame_bgr.shape[0] >= height and frame_bgr.shape[1] >= width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = cv2.resize(frame_bgr, (width, height), interpolation=interpolation)
    if spec.crop is not None:
        top = (height - spec.crop) // 2
        left = (width - spec.crop) // 2
        out = out[top : top + spec.crop, left : left + spec.crop]
    if spec.color_order == "RGB":
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)


def clips_to_tensor(
    clips: np.ndarray, spec: InputSpec, device: torch.device, channels_last: bool = True
) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 clips → normalised float32 (B, 3, T, H, W) on ``device``."""
    raw = torch.from_numpy(clips).to(device, non_blocking=True)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=device)
    std = torch.tensor(spec.std, dtype=torch.float32, device=device)
    x = (raw.float() * spec.scale - mean) / std
    x = x.permute(0, 4, 1, 2, 3)
    return x if channels_last else x.contiguous()


def frames_to_clip(frames: list[np.ndarray], spec: InputSpec) -> np.ndarray:
    """Prepared frames of one window → (T, H, W, 3), repeating the last frame if too few."""
    if not frames:
        raise ValueError("A clip needs at least one frame.")
    padded = frames + [frames[-1]] * (spec.window - len(frames))
    return np.stack(padded[: spec.window])
