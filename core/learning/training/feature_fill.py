"""Filling the feature cache before a head is trained: only the videos it still lacks are decoded."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from core.analysis.run import LoadedModel, analyse_video
from core.errors import Cancelled
from core.learning.training.config import Report, TrainingProgress
from core.store import Store
from core.store.records import Video


def analyse_missing(
    store: Store,
    loaded: LoadedModel,
    missing: Sequence[Video],
    stride: int,
    cancel: threading.Event,
    report: Report,
) -> None:
    """Analyse each video with the parent model, which caches its features as a side effect."""
    for number, video in enumerate(missing, start=1):
        report(
            TrainingProgress("features", 0, 0, message=f"computing features of video {number}/{len(missing)}")
        )
        analyse_video(store, store.videos.get(video.id), loaded, stride=stride, cancel=cancel)
        if cancel.is_set():
            raise Cancelled("Training cancelled while computing features; the finished part is kept.")
