"""Turning per-frame class scores into predicted events.

Scores flicker around any single threshold, which would split one real event into many short
ones; hysteresis (open high, close lower), gap filling and a minimum length are the usual
cures, applied per class because events of different classes behave differently. Each step
is a handful of whole-array numpy operations, so re-running it while the user drags a
threshold slider stays interactive even on hour-long videos.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostprocessParams:
    """How one class's scores become events; lengths are in frames."""

    smoothing: int = 1
    """Odd width of the centred moving average; 1 means no smoothing."""
    open_threshold: float = 0.5
    """An event opens on the first frame whose score is at least this."""
    close_threshold: float = 0.4
    """An open event ends before the first frame whose score falls below this (or is unknown)."""
    min_length: int = 1
    """Events shorter than this are dropped, after gap filling."""
    fill_gaps: int = 0
    """Two events separated by at most this many frames become one."""

    def __post_init__(self) -> None:
        if self.smoothing < 1 or self.smoothing % 2 == 0:
            raise ValueError(f"smoothing must be an odd number of frames ≥ 1, got {self.smoothing}.")
        if not self.close_threshold <= self.open_threshold:
            raise ValueError(
                f"The close threshold ({self.close_threshold}) must not exceed the open threshold "
                f"({self.open_threshold})."
            )
        if self.min_length < 1:
            raise ValueError(f"min_length must be at least 1 frame, got {self.min_length}.")
        if self.fill_gaps < 0:
            raise ValueError(f"fill_gaps must not be negative, got {self.fill_gaps}.")


@dataclass(frozen=True)
class PredictedEvent:
    """A predicted event, half-open ``[start_frame, end_frame)``; score is its mean frame score."""

    class_index: int
    start_frame: int
    end_frame: int
    score: float


def smooth(scores: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along frames (axis 0), same shape as the input, as float64.

    Near the ends the average is over the frames that exist, and NaN frames (not scored yet)
    are left out of every average instead of poisoning it; a frame whose whole window is NaN
    stays NaN.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"The smoothing window must be an odd number of frames ≥ 1, got {window}.")
    values = np.asarray(scores, dtype=np.float64)
    if window == 1 or values.shape[0] == 0:
        return values.copy()
    half = window // 2
    valid = ~np.isnan(values)
    if valid.all():
        sums = _window_sums(values, half)
        index = np.arange(values.shape[0])
        span = np.minimum(index + half + 1, values.shape[0]) - np.maximum(index - half, 0)
        counts = span.reshape((-1,) + (1,) * (values.ndim - 1)).astype(np.float64)
    else:
        sums = _window_sums(np.where(valid, values, 0.0), half)
        counts = _window_sums(valid.astype(np.float64), half)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = sums / counts
    return np.where(counts == 0, np.nan, result)


def _window_sums(values: np.ndarray, half: int) -> np.ndarray:
    """Sum over ``[i - half, i + half]`` clipped to the array, for every i, by plain slicing.

    The cumulative sum is padded with its first (0) and last values so the clipped windows
    at both ends need no index arrays.
    """
    n = values.shape[0]
    cumulative = np.cumsum(values, axis=0)
    tail = (half, *values.shape[1:])
    extended = np.concatenate(
        (
            np.zeros((half + 1, *values.shape[1:])),
            cumulative,
            np.broadcast_to(cumulative[-1], tail),
        )
    )
    return extended[2 * half + 1 : 2 * half + 1 + n] - extended[:n]


def _hysteresis(values: np.ndarray, open_threshold: float, close_threshold: float) -> np.ndarray:
    """Boolean "inside an event" per frame.

    A frame is inside when the latest decisive frame at or before it opened: frames between
    the thresholds keep whatever state came before them. Unknown (NaN) frames close.
    """
    opens = values >= open_threshold
    closes = ~(values >= close_threshold)  # NaN compares False, so it closes
    decisive = np.where(opens | closes, np.arange(values.shape[0]), -1)
    latest = np.maximum.accumulate(decisive)
    return (latest >= 0) & opens[np.maximum(latest, 0)]


def _runs(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.diff(np.concatenate(([0], inside.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def events_for_class(
    scores_1d: np.ndarray, params: PostprocessParams, class_index: int
) -> list[PredictedEvent]:
    """Events of one class: smoothing, then hysteresis, then gap filling, then minimum length."""
    values = smooth(np.ascontiguousarray(scores_1d, dtype=np.float64).reshape(-1), params.smoothing)
    if values.shape[0] == 0:
        return []
    starts, ends = _runs(_hysteresis(values, params.open_threshold, params.close_threshold))
    if starts.size > 1 and params.fill_gaps > 0:
        separate = (starts[1:] - ends[:-1]) > params.fill_gaps
        starts = starts[np.concatenate(([True], separate))]
        ends = ends[np.concatenate((separate, [True]))]
    long_enough = (ends - starts) >= params.min_length
    starts, ends = starts[long_enough], ends[long_enough]
    if starts.size == 0:
        return []

    valid = ~np.isnan(values)
    total = np.concatenate(([0.0], np.cumsum(np.where(valid, values, 0.0))))
    count = np.concatenate(([0], np.cumsum(valid)))
    means = (total[ends] - total[starts]) / np.maximum(count[ends] - count[starts], 1)
    return [
        PredictedEvent(class_index, int(s), int(e), float(m))
        for s, e, m in zip(starts, ends, means, strict=True)
    ]


def predicted_events(
    frame_scores: np.ndarray,
    params: Mapping[int, PostprocessParams] | PostprocessParams,
    skip_classes: AbstractSet[int] = frozenset(),
) -> list[PredictedEvent]:
    """Events of every class except ``skip_classes`` (background), sorted by start frame.

    ``params`` is either one setting for all classes or one per class index; a class missing
    from the mapping gets the defaults, so a newly added class still shows predictions.
    """
    scores = np.asarray(frame_scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"frame_scores must be (frames, classes), got shape {scores.shape}.")
    by_class = np.ascontiguousarray(scores.T)  # a column of a (frames, C) array is strided: slow
    events: list[PredictedEvent] = []
    for class_index in range(scores.shape[1]):
        if class_index in skip_classes:
            continue
        if isinstance(params, PostprocessParams):
            chosen = params
        else:
            chosen = params.get(class_index, PostprocessParams())
        events.extend(events_for_class(by_class[class_index], chosen, class_index))
    events.sort(key=lambda e: (e.start_frame, e.class_index))
    return events


def point_events(
    starts: np.ndarray,
    probs: np.ndarray,
    window: int,
    params: Mapping[int, PostprocessParams] | PostprocessParams,
) -> list[PredictedEvent]:
    """A point track's events: one per run of neighbouring windows whose sigmoid reaches the
    open threshold, at the centre frame of the run's highest window (``[f, f + 1)``).

    A point head says whether an event falls in a window's central frames, so the peak window's
    centre is where the event is; spreading its score over the whole window, as a state track's
    frame scores do, would blur sixteen frames into one.
    """
    order = np.argsort(np.asarray(starts), kind="stable")
    s = np.asarray(starts, dtype=np.int64)[order]
    p = np.asarray(probs, dtype=np.float64)[order]
    if p.ndim != 2:
        raise ValueError(f"probs must be (windows, classes), got shape {p.shape}.")
    centres = s + window // 2
    gap = int(np.median(np.diff(s))) if len(s) > 1 else window
    events: list[PredictedEvent] = []
    for k in range(p.shape[1]):
        chosen = params if isinstance(params, PostprocessParams) else params.get(k, PostprocessParams())
        on = p[:, k] >= chosen.open_threshold
        run: list[int] = []
        for i in [*np.flatnonzero(on).tolist(), -1]:
            if i >= 0 and run and centres[i] - centres[run[-1]] <= max(gap, 1):
                run.append(i)
                continue
            if run:
                best = run[int(np.argmax(p[run, k]))]
                events.append(
                    PredictedEvent(k, int(centres[best]), int(centres[best]) + 1, float(p[best, k]))
                )
            run = [i] if i >= 0 else []
    events.sort(key=lambda e: (e.start_frame, e.class_index))
    return events
