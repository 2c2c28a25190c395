"""Plain records the store hands out. Nothing outside ``core.store`` ever sees an ORM object."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

BACKGROUND = "background"


class SegmentSource(enum.StrEnum):
    HUMAN = "human"
    ACCEPTED = "accepted"  # a model prediction a human accepted


class TrackKind(enum.StrEnum):
    STATE = "state"  # segments [start, end)
    POINT = "point"  # events at one frame, stored as [frame, frame + 1)


DEFAULT_TRACK = "behaviour"
"""The track every project starts with, and the one stores made before tracks migrate into."""


class ModelState(enum.StrEnum):
    UNTRAINED = "untrained"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    CANCELLED = "cancelled"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Track:
    """A lane of labels with its own classes (and own background)."""

    id: int
    name: str
    kind: TrackKind
    subject: str | None
    class_set: str | None
    position: int

    @property
    def point(self) -> bool:
        return self.kind is TrackKind.POINT


@dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    color: str  # "#rrggbb"
    shortcut: str | None
    position: int
    track_id: int
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostprocessSetting:
    """A class's saved post-processing (see ``core.analysis.postprocess.PostprocessParams``)."""

    class_name: str
    smoothing: int
    open_threshold: float
    close_threshold: float
    min_length: int
    fill_gaps: int
    track_id: int | None = None
    """The class's track; None on saving means the first track."""


@dataclass(frozen=True)
class Video:
    id: int
    path: str
    content_hash: str
    width: int
    height: int
    fps: float  # nominal, from the header
    header_frame_count: int
    frame_count: int | None  # true count, known once indexed
    timestamps_s: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def indexed(self) -> bool:
        return self.frame_count is not None and self.timestamps_s is not None

    @property
    def best_frame_count(self) -> int:
        """The true count when indexed, the header's guess otherwise."""
        return self.frame_count if self.frame_count is not None else self.header_frame_count


@dataclass(frozen=True)
class Segment:
    """A labelled half-open frame range ``[start_frame, end_frame)``."""

    id: int
    video_id: int
    class_id: int
    class_name: str
    start_frame: int
    end_frame: int
    source: SegmentSource
    created_at: datetime
    updated_at: datetime
    track_id: int
    modifiers: tuple[str, ...] = ()
    comment: str | None = None
    version: int = 1  # bumped by every change of the row: what an edit names as "what I read"


@dataclass(frozen=True)
class NewSegment:
    """A segment about to be written (no id yet)."""

    class_id: int
    start_frame: int
    end_frame: int
    source: SegmentSource = SegmentSource.HUMAN
    modifiers: tuple[str, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    id: int
    name: str
    checkpoint_path: str
    class_names: tuple[str, ...]
    input_spec_json: str
    parent_id: int | None
    mode: str | None  # "features" | "last-layers" | "full" | "import" | None for untrained
    state: ModelState
    metrics: dict[str, Any]
    summary: dict[str, Any]
    trunk_hash: str
    created_at: datetime

    @property
    def untrained(self) -> bool:
        return self.state is ModelState.UNTRAINED


@dataclass(frozen=True)
class PredictionRun:
    id: int
    video_id: int
    model_version_id: int
    stride: int
    status: RunStatus
    windows_done: int
    windows_total: int


@dataclass(frozen=True)
class FeatureCacheEntry:
    id: int
    video_hash: str
    trunk_hash: str
    spec_hash: str
    stride: int
    layer: str  # "fc7" | "pool5"
    path: str
    windows: int
    complete: bool
