"""Sliding windows over a video and the per-frame scores they add up to.

The network scores clips, but people label frames; these functions are the bridge. Windows
overlap, so each frame's score is the mean over every clip that saw it, which also smooths
the jitter of single clips. Frames are half-open ``[start, start + length)`` ranges.
"""

from __future__ import annotations

import logging

import numpy as np

from core.model.spec import WINDOW_LENGTH

log = logging.getLogger(__name__)

DEFAULT_STRIDE = WINDOW_LENGTH // 2
"""Half-overlapping clips: every frame is seen twice, at a quarter of the cost of stride 2."""


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")


def window_starts(frame_count: int, length: int = WINDOW_LENGTH, stride: int = DEFAULT_STRIDE) -> np.ndarray:
    """First frames of the windows that tile a video, as int64.

    The last window is pulled back to end exactly at ``frame_count`` so the tail of the video
    is scored with a full clip instead of a padded one. A video shorter than ``length`` has
    the single start 0; its clip is padded by whoever reads the frames. With ``stride >
    length`` frames between windows are deliberately skipped.
    """
    _check_positive(frame_count=frame_count, length=length, stride=stride)
    last = frame_count - length
    if last <= 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, np.int64(last))
    return starts


def frame_scores(
    starts: np.ndarray, probs: np.ndarray, frame_count: int, length: int = WINDOW_LENGTH
) -> np.ndarray:
    """Per-frame class scores, shape (frame_count, C): the mean over the windows covering each frame.

    ``starts`` may be any subset of windows in any order (scores arriving while inference is
    still running), so frames no window covers yet are NaN rather than zero, which would read
    as a confident "no". Windows reaching past the video, as a padded short video's does,
    are clipped to it. Computed as float64 with difference arrays: O(frames + windows).
    """
    _check_positive(frame_count=frame_count, length=length)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != starts.shape[0]:
        raise ValueError(
            f"probs must have one row per window: got {starts.shape[0]} starts and probs of shape "
            f"{probs.shape}."
        )
    first = np.clip(starts, 0, frame_count)
    stop = np.clip(starts + length, 0, frame_count)
    classes = probs.shape[1]

    delta = np.zeros((frame_count + 1, classes), dtype=np.float64)
    np.add.at(delta, first, probs)
    np.add.at(delta, stop, -probs)
    sums = np.cumsum(delta[:-1], axis=0)
    counts = np.cumsum(
        np.bincount(first, minlength=frame_count + 1) - np.bincount(stop, minlength=frame_count + 1)
    )[:-1]

    covered = counts > 0
    scores = np.full((frame_count, classes), np.nan, dtype=np.float64)
    scores[covered] = sums[covered] / counts[covered, None]
    return scores


def centre_frames(
    starts: np.ndarray, length: int = WINDOW_LENGTH, frame_count: int | None = None
) -> np.ndarray:
    """The frame each window is plotted at: its middle, kept inside the video when known.

    A padded window of a video shorter than ``length`` would otherwise sit past the last
    frame, so give ``frame_count`` to clip the centres to ``[0, frame_count)``.
    """
    _check_positive(length=length)
    centres = np.asarray(starts, dtype=np.int64) + length // 2
    if frame_count is not None:
        _check_positive(frame_count=frame_count)
        centres = np.clip(centres, 0, frame_count - 1)
    return centres
