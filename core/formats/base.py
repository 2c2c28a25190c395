"""The shape every interchange format shares: a project's labels, video by video.

Formats receive plain records and write files atomically; seconds are derived here, from each
video's own timestamps, so every format agrees to the microsecond on where a frame starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.store.records import Segment, Video
from core.timebase import duration_s, frame_to_seconds


@dataclass(frozen=True)
class VideoLabels:
    video: Video
    segments: tuple[Segment, ...]

    def seconds(self, frame: int) -> float:
        return frame_to_seconds(frame, self.video.timestamps_s, self.video.fps)

    @property
    def frame_count(self) -> int:
        return self.video.best_frame_count

    @property
    def duration_s(self) -> float:
        return duration_s(self.frame_count, self.video.timestamps_s, self.video.fps)


class SegmentWriter(Protocol):
    name: str
    suffix: str

    def write(self, items: Sequence[VideoLabels], out: Path) -> None: ...


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Neutralise a text cell a spreadsheet would run as a formula (numbers are never passed here)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
