"""Training examples from the store: which windows count, with which class.

A window is an example only when the segment covering its centre frame was drawn or accepted
by a person. Frames nobody labelled are *not* background: treating them so would teach the
network that every unlabelled event is nothing, and punish it for finding the events the
user has not reached yet. Background is learnt only where someone said "background".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.analysis.windows import window_starts
from core.errors import TrainingError
from core.learning.training.events import LabelledWindows, event_counts, event_groups
from core.store import Store
from core.store.records import Segment, SegmentSource, Video

log = logging.getLogger(__name__)

TRUSTED_SOURCES = frozenset({SegmentSource.HUMAN, SegmentSource.ACCEPTED})
UNLABELLED = -1


@dataclass(frozen=True)
class VideoExamples:
    """The windows of one video and their class index, ``UNLABELLED`` where no one said."""

    video: Video
    starts: np.ndarray  # int64 (N,), every window at the stride, labelled or not
    labels: np.ndarray  # int64 (N,)
    segments: tuple[Segment, ...] = ()

    @property
    def labelled(self) -> np.ndarray:
        return self.labels != UNLABELLED

    @property
    def n_labelled(self) -> int:
        return int(self.labelled.sum())


@dataclass(frozen=True)
class TrainingSet:
    class_names: tuple[str, ...]
    window: int
    stride: int
    videos: list[VideoExamples] = field(default_factory=list)

    def counts(self) -> np.ndarray:
        """Labelled windows per class."""
        total = np.zeros(len(self.class_names), dtype=np.int64)
        for item in self.videos:
            labels = item.labels[item.labelled]
            total += np.bincount(labels, minlength=len(self.class_names))
        return total

    def event_counts(self) -> np.ndarray:
        """Labelled events per class: runs of consecutive windows with one label.

        With few labels a validation score rests on these, not on the windows: the windows of
        one event are near copies of each other.
        """
        total = np.zeros(len(self.class_names), dtype=np.int64)
        for item in self.videos:
            keep = item.labelled
            data = LabelledWindows(
                np.zeros(int(keep.sum()), np.int64), item.starts[keep], item.labels[keep], self.window
            )
            total += event_counts(data.labels, event_groups(data), len(self.class_names))
        return total

    def events_text(self) -> str:
        """'12 labelled events (background 6, ball_left 2, …)', for the Fine-tune dialog."""
        counts = self.event_counts()
        parts = ", ".join(f"{n} {int(c)}" for n, c in zip(self.class_names, counts, strict=True) if c)
        return f"{int(counts.sum())} labelled events ({parts})"

    def summary(self) -> dict[str, object]:
        """What the model version records about the data it learnt from."""
        return {
            "videos": [
                {"id": v.video.id, "hash": v.video.content_hash, "windows": v.n_labelled} for v in self.videos
            ],
            "windows_per_class": dict(zip(self.class_names, self.counts().tolist(), strict=True)),
            "window": self.window,
            "stride": self.stride,
        }


def window_labels(
    segments: Sequence[Segment], starts: np.ndarray, window: int, class_index: dict[str, int]
) -> np.ndarray:
    """Class index of the trusted segment covering each window's centre frame, else UNLABELLED."""
    centres = np.asarray(starts, dtype=np.int64) + window // 2
    labels = np.full(len(centres), UNLABELLED, dtype=np.int64)
    for seg in segments:
        if seg.source not in TRUSTED_SOURCES or seg.class_name not in class_index:
            continue
        inside = (centres >= seg.start_frame) & (centres < seg.end_frame)
        labels[inside] = class_index[seg.class_name]
    return labels


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights (the average example keeps weight 1), 0 for absent classes.

    Background usually outnumbers each event class many times; without weights a model that
    always says "background" already scores well on the loss.
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return weights


def build_training_set(
    store: Store,
    class_names: Sequence[str],
    window: int,
    stride: int,
    video_ids: Sequence[int] | None = None,
) -> TrainingSet:
    """Examples of the chosen videos (default: all) that carry at least one trusted label."""
    names = tuple(class_names)
    index = {name: i for i, name in enumerate(names)}
    chosen = store.videos.list() if video_ids is None else [store.videos.get(v) for v in video_ids]
    items: list[VideoExamples] = []
    for video in chosen:
        segments = store.segments.list(video.id)
        if not segments:
            continue
        frames = max(video.best_frame_count, max(s.end_frame for s in segments))
        starts = window_starts(frames, window, stride)
        labels = window_labels(segments, starts, window, index)
        if (labels != UNLABELLED).any():
            items.append(VideoExamples(video, starts, labels, tuple(segments)))
    result = TrainingSet(names, window, stride, items)
    if not items:
        raise TrainingError(
            "No video has labelled frames yet: label some events (and some background) first."
        )
    present = int((result.counts() > 0).sum())
    if present < 2:
        raise TrainingError(
            "Training needs labels of at least two classes (for example an event and background); "
            "label some more."
        )
    log.info("Training set: %d videos, windows per class %s", len(items), result.counts().tolist())
    return result
