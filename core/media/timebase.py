"""Frames ↔ seconds, from a video's own timestamps.

Frames are the unit everywhere; seconds exist only for display and export, and they come
from the decoded timestamps (variable frame rate is common), never from nominal fps once the
video has been indexed.
"""

from __future__ import annotations

import numpy as np


def frame_to_seconds(frame: int, timestamps_s: np.ndarray | None, fps: float) -> float:
    """Start time of ``frame``; ``frame == len(timestamps)`` gives the end of the last frame."""
    if timestamps_s is None or len(timestamps_s) == 0:
        return frame / fps
    n = len(timestamps_s)
    if frame < n:
        return float(timestamps_s[max(frame, 0)])
    last = _last_duration(timestamps_s, fps)
    return float(timestamps_s[-1] + last + (frame - n) / fps)


def seconds_to_frame(t: float, timestamps_s: np.ndarray | None, fps: float) -> int:
    """The frame whose display interval contains ``t`` (clamped at 0)."""
    if timestamps_s is None or len(timestamps_s) == 0:
        return max(int(np.floor(t * fps + 1e-9)), 0)
    index = int(np.searchsorted(timestamps_s, t + 1e-9, side="right")) - 1
    return max(index, 0)


def duration_s(frame_count: int, timestamps_s: np.ndarray | None, fps: float) -> float:
    return frame_to_seconds(frame_count, timestamps_s, fps)


def _last_duration(timestamps_s: np.ndarray, fps: float) -> float:
    if len(timestamps_s) >= 2:
        step = float(timestamps_s[-1] - timestamps_s[-2])
        if step > 0:
            return step
    return 1.0 / fps
