"""Seconds from a file → frames of a video, from the video's own timestamps.

A time within half a millisecond of a frame's start is that frame (EAF stores milliseconds; every
format rounds somewhere); anything further off is snapped to the nearest frame with a warning, so
the user learns the file and the video disagree instead of silently shifting labels.
"""

from __future__ import annotations

import numpy as np

from core.interchange.formats.base import ParsedSpan
from core.media.timebase import frame_to_seconds, seconds_to_frame
from core.store.records import Video

TOLERANCE_S = 0.0005


def span_frames(span: ParsedSpan, video: Video) -> tuple[int | None, int | None, list[str]]:
    """(start, end, warnings); frames win over seconds when the file has both."""
    warnings: list[str] = []
    if span.start_frame is not None:
        start: int | None = span.start_frame
    elif span.start_s is not None:
        if span.point:
            start = _point_frame(span.start_s, video)
        else:
            start = _snap(span.start_s, video, "starts", warnings)
    else:
        start = None
    if span.point and start is not None:
        return start, start + 1, warnings
    if span.end_frame is not None:
        end: int | None = span.end_frame
    elif span.end_s is not None:
        end = _snap(span.end_s, video, "ends", warnings)
    else:
        end = None
    return start, end, warnings


def _point_frame(t: float, video: Video) -> int:
    """The frame showing a point event: the one whose start is within tolerance of ``t`` (files
    round times), else the frame on screen at ``t``."""
    if t < 0:
        return -1
    nearest = nearest_boundary(t, video)
    at = frame_to_seconds(nearest, video.timestamps_s, video.fps)
    if abs(at - t) <= min(TOLERANCE_S, 0.25 / video.fps) + 1e-9:
        return nearest
    return seconds_to_frame(t, video.timestamps_s, video.fps)


def _snap(t: float, video: Video, verb: str, warnings: list[str]) -> int:
    frame = nearest_boundary(t, video)
    at = frame_to_seconds(frame, video.timestamps_s, video.fps)
    tolerance = min(TOLERANCE_S, 0.25 / video.fps) + 1e-9
    if abs(at - t) > tolerance:
        warnings.append(
            f"it {verb} at {t:.6g} s, which is not on a frame; snapped to frame {frame} ({at:.6g} s)"
        )
    return frame


def nearest_boundary(t: float, video: Video) -> int:
    """The frame whose start (or the video's end, for ``frame_count``) is nearest to ``t``."""
    stamps = video.timestamps_s
    if stamps is None or len(stamps) == 0:
        return int(np.floor(t * video.fps + 0.5))
    end = frame_to_seconds(len(stamps), stamps, video.fps)
    if t >= end:
        return len(stamps) + int(np.floor((t - end) * video.fps + 0.5))
    if t <= float(stamps[0]):
        return int(np.floor((t - float(stamps[0])) * video.fps + 0.5))
    bounds = np.append(np.asarray(stamps, dtype=np.float64), end)
    i = int(np.searchsorted(bounds, t))
    return i if bounds[i] - t <= t - bounds[i - 1] else i - 1
