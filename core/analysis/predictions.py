"""A video's predictions as the timeline and the accept/export paths need them.

Window probabilities live in the store; per-frame scores and predicted events are derived on
demand (cheap, vectorised), so changing post-processing never rewrites anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.analysis.postprocess import PostprocessParams, PredictedEvent, point_events, predicted_events
from core.analysis.windows import frame_scores
from core.model.registry import version_tracks
from core.model.spec import InputSpec
from core.model.track_heads import column_slices
from core.store import Store
from core.store.records import BACKGROUND, RunStatus, TrackKind, Video


@dataclass(frozen=True)
class VideoPredictions:
    model_version_id: int
    class_names: tuple[str, ...]
    untrained: bool
    starts: np.ndarray  # int64 (N,)
    probs: np.ndarray  # float32 (N, C)
    frame_scores: np.ndarray  # (frame_count, C); NaN where no window has been scored yet
    complete: bool
    track: str = ""
    """The track these columns are the head of (the store holds every head's side by side)."""
    kind: TrackKind = TrackKind.STATE
    window: int = 16

    @property
    def background_index(self) -> int | None:
        lowered = [name.lower() for name in self.class_names]
        return lowered.index(BACKGROUND) if BACKGROUND in lowered else None


def load_predictions(
    store: Store, video: Video, model_version_id: int | None = None, track: str | None = None
) -> VideoPredictions | None:
    """The latest run of ``model_version_id`` (default: the active model) on ``video``, for
    ``track`` (default: the first track); None when there is none or the model has no head
    for that track."""
    if model_version_id is None:
        active = store.models.active()
        if active is None:
            return None
        model_version_id = active.id
    run = store.predictions.latest_run(video.id, model_version_id)
    if run is None:
        return None
    version = store.models.get(model_version_id)
    wanted = store.tracks.resolve(track).name.casefold()
    specs = version_tracks(store, version)
    spec = next((s for s in specs if s.name.casefold() == wanted), None)
    if spec is None:
        return None
    starts, every = store.predictions.windows(run.id)
    probs = np.ascontiguousarray(every[:, column_slices(specs)[spec.name]])
    window = InputSpec.from_json(version.input_spec_json).window
    frame_count = max(video.best_frame_count, int(starts.max()) + 1 if len(starts) else 0)
    return VideoPredictions(
        model_version_id=model_version_id,
        class_names=spec.outputs,
        untrained=version.untrained,
        starts=starts,
        probs=probs,
        frame_scores=frame_scores(starts, probs, frame_count, window),
        complete=run.status is RunStatus.COMPLETE,
        track=spec.name,
        kind=spec.kind,
        window=window,
    )


def events_for(
    preds: VideoPredictions, params: Mapping[int, PostprocessParams] | PostprocessParams | None = None
) -> list[PredictedEvent]:
    """Predicted events after post-processing; background is what's left, never an event.

    A point track's events are single frames at the peaks of its sigmoid (``point_events``).
    """
    if preds.kind is TrackKind.POINT:
        return point_events(preds.starts, preds.probs, preds.window, params or PostprocessParams())
    background = preds.background_index
    skip = frozenset() if background is None else frozenset({background})
    return predicted_events(preds.frame_scores, params or PostprocessParams(), skip_classes=skip)


def track_events(
    store: Store, video: Video, track_id: int, track: str, model_version_id: int | None = None
) -> tuple[tuple[str, ...], list[PredictedEvent]] | None:
    """One track's head's classes and predicted events, post-processed with that track's
    saved settings; None when the model has no predictions for the track."""
    from core.analysis.postprocess_settings import load_params

    preds = load_predictions(store, video, model_version_id, track=track)
    if preds is None:
        return None
    return preds.class_names, events_for(preds, load_params(store, preds.class_names, track_id))
