"""Accepting predictions: events land as ACCEPTED segments; fill-unlabelled never overwrites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analysis.postprocess import PostprocessParams, PredictedEvent
from core.analysis.predictions import events_for, load_predictions
from core.analysis.windows import window_starts
from core.labels.accept import accept_events
from core.media.library import add_video
from core.store.records import ModelState, NewSegment, RunStatus, SegmentSource
from tests.videos import write_mjpeg_avi

CLASSES = ("background", "flash", "ball")


@pytest.fixture
def video(tmp_path: Path, store):  # type: ignore[no-untyped-def]
    for name in CLASSES[1:]:
        store.classes.add(name)
    v = add_video(store, write_mjpeg_avi(tmp_path / "v.avi", 64, size=(112, 112)))
    return store.videos.set_index(v.id, 64, np.arange(64) / 25.0)


def _spans(store, video_id: int) -> list[tuple[str, int, int, str]]:  # type: ignore[no-untyped-def]
    return [(s.class_name, s.start_frame, s.end_frame, s.source.value) for s in store.segments.list(video_id)]


def test_accept_overwrites_and_marks_accepted(store, video) -> None:  # type: ignore[no-untyped-def]
    flash = store.classes.by_name("flash")
    store.segments.add(video.id, NewSegment(flash.id, 0, 20, SegmentSource.HUMAN))
    events = [PredictedEvent(class_index=2, start_frame=10, end_frame=30, score=0.9)]
    accept_events(store, video.id, events, CLASSES)
    assert _spans(store, video.id) == [("flash", 0, 10, "human"), ("ball", 10, 30, "accepted")]


def test_fill_unlabelled_only_never_touches_a_label(store, video) -> None:  # type: ignore[no-untyped-def]
    flash = store.classes.by_name("flash")
    store.segments.add(video.id, NewSegment(flash.id, 15, 20, SegmentSource.HUMAN))
    events = [PredictedEvent(class_index=2, start_frame=10, end_frame=30, score=0.9)]
    accept_events(store, video.id, events, CLASSES, fill_unlabelled_only=True)
    assert _spans(store, video.id) == [
        ("ball", 10, 15, "accepted"),
        ("flash", 15, 20, "human"),
        ("ball", 20, 30, "accepted"),
    ]


def test_accept_in_a_range_clips_events(store, video) -> None:  # type: ignore[no-untyped-def]
    events = [PredictedEvent(1, 0, 40, 0.8), PredictedEvent(2, 50, 60, 0.7)]
    accept_events(store, video.id, events, CLASSES, start=30, end=55)
    assert _spans(store, video.id) == [("flash", 30, 40, "accepted"), ("ball", 50, 55, "accepted")]


def test_predictions_from_the_store_become_events(store, video) -> None:  # type: ignore[no-untyped-def]
    version = store.models.add(
        name="m", checkpoint_path="/nowhere.safetensors", class_names=CLASSES,
        input_spec_json='{"color_order": "RGB", "crop": null, "mean": [0, 0, 0], "resize": [112, 112],'
        ' "scale": 1.0, "std": [1, 1, 1], "window": 16}',
        trunk_hash="x", state=ModelState.READY,
    )  # fmt: skip
    store.models.set_active(version.id)
    starts = window_starts(64)
    probs = np.tile(np.array([[0.9, 0.05, 0.05]], np.float32), (len(starts), 1))
    probs[starts >= 32] = [0.05, 0.9, 0.05]  # flash in the second half
    run = store.predictions.start_run(video.id, version.id, 8, len(starts))
    store.predictions.add_windows(run.id, starts, probs)
    store.predictions.finish(run.id, RunStatus.COMPLETE)

    preds = load_predictions(store, video)
    assert preds is not None and preds.complete and preds.frame_scores.shape == (64, 3)
    events = events_for(preds, PostprocessParams(open_threshold=0.5, close_threshold=0.5))
    assert [(e.class_index, e.start_frame, e.end_frame) for e in events] == [(1, 40, 64)]
    accept_events(store, video.id, events, preds.class_names)
    assert _spans(store, video.id) == [("flash", 40, 64, "accepted")]
