"""Evaluating a model version against the project's human labels (``evaluate`` and the GUI).

Glue between the store and ``core.learning.evaluation``: per-frame predictions come from the
version's latest prediction run of each labelled video, truth from trusted segments;
segment metrics compare post-processed events with labelled events (background excluded)
in seconds taken from each video's own timestamps, as ActivityNet files are written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.analysis.predictions import load_predictions, saved_events
from core.errors import TrainingError
from core.learning.evaluation import (
    MAP_TIOU_THRESHOLDS,
    THUMOS_TIOU_THRESHOLDS,
    FrameMetrics,
    Interval,
    activitynet_map,
    frame_metrics,
    match_events,
    segment_f1_scores,
)
from core.learning.training.dataset import TRUSTED_SOURCES, UNLABELLED
from core.media.timebase import frame_to_seconds
from core.model.registry import version_tracks
from core.store import Store
from core.store.records import BACKGROUND, ModelVersion, TrackKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEvaluation:
    version: ModelVersion
    videos: int
    frames: FrameMetrics
    segment_f1: dict[float, float]
    map_anet: dict[float, float]  # tIoU 0.5:0.05:0.95
    map_thumos: dict[float, float]  # tIoU 0.3:0.1:0.7
    thresholds: dict[str, float] = field(default_factory=dict)
    track: str = ""
    class_names: tuple[str, ...] = ()
    """The track's classes (the version's when empty: a one-track model)."""

    @property
    def average_map(self) -> float:
        return float(np.mean(list(self.map_anet.values()))) if self.map_anet else 0.0

    def lines(self) -> list[str]:
        """Human-readable report, as the CLI prints it."""
        names = self.class_names or self.version.class_names
        out = [f"model #{self.version.id} {self.version.name} on {self.videos} labelled video(s)"]
        if self.track:
            out[0] = f"track {self.track}: " + out[0]
        out.append(
            f"frames: {self.frames.frames}  accuracy {self.frames.accuracy:.3f}  "
            f"macro-F1 {self.frames.macro_f1:.3f}"
        )
        out.append(f"{'class':<20}{'precision':>10}{'recall':>10}{'F1':>10}{'frames':>10}")
        for i, name in enumerate(names):
            f = self.frames
            out.append(
                f"{name:<20}{f.precision[i]:>10.3f}{f.recall[i]:>10.3f}{f.f1[i]:>10.3f}{f.support[i]:>10d}"
            )
        out.append("confusion (rows: human, columns: model): " + " ".join(names))
        out.extend("  " + " ".join(f"{v:>7d}" for v in row) for row in self.frames.confusion)
        out.append("segment F1: " + "  ".join(f"@{t:g}={v:.3f}" for t, v in self.segment_f1.items()))
        out.append(f"mAP@0.5:0.95 (ActivityNet) {self.average_map:.3f}")
        out.append("mAP: " + "  ".join(f"@{t:g}={v:.3f}" for t, v in self.map_thumos.items()))
        if self.thresholds:
            out.append(
                "suggested thresholds: " + "  ".join(f"{k}={v:.2f}" for k, v in self.thresholds.items())
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "frame_macro_f1": self.frames.macro_f1,
            "frame_accuracy": self.frames.accuracy,
            "segment_f1": {str(k): v for k, v in self.segment_f1.items()},
            "map_anet_avg": self.average_map,
            "map": {str(k): v for k, v in (self.map_thumos | self.map_anet).items()},
        }


@dataclass(frozen=True)
class PointEvaluation:
    """A point track: events matched one-to-one within ``tolerance`` frames, per class."""

    version: ModelVersion
    track: str
    videos: int
    tolerance: int
    per_class: dict[str, tuple[int, int, int]]  # class → (matched, predicted, labelled)

    @property
    def f1(self) -> float:
        matched = sum(m for m, _, _ in self.per_class.values())
        total = sum(p + t for _, p, t in self.per_class.values())
        return 2 * matched / total if total else 1.0

    def lines(self) -> list[str]:
        out = [
            f"track {self.track} (point): model #{self.version.id} {self.version.name} on "
            f"{self.videos} labelled video(s)",
            f"event F1 within ±{self.tolerance} frames {self.f1:.3f}",
            f"{'class':<20}{'precision':>10}{'recall':>10}{'F1':>10}{'events':>10}",
        ]
        for name, (matched, predicted, labelled) in self.per_class.items():
            precision = matched / predicted if predicted else 0.0
            recall = matched / labelled if labelled else 0.0
            f1 = 2 * matched / (predicted + labelled) if predicted + labelled else 1.0
            out.append(f"{name:<20}{precision:>10.3f}{recall:>10.3f}{f1:>10.3f}{labelled:>10d}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"event_f1": self.f1, "tolerance": self.tolerance}


def frame_truth(
    store: Store, video_id: int, frame_count: int, class_names: tuple[str, ...], track_id: int | None = None
) -> np.ndarray:
    """Class index of each frame from trusted segments of one track; ``UNLABELLED`` elsewhere."""
    index = {name: i for i, name in enumerate(class_names)}
    truth = np.full(frame_count, UNLABELLED, dtype=np.int64)
    for seg in store.segments.list(video_id, track_id=track_id):
        if seg.source in TRUSTED_SOURCES and seg.class_name in index:
            truth[seg.start_frame : min(seg.end_frame, frame_count)] = index[seg.class_name]
    return truth


def evaluate_tracks(
    store: Store, version_id: int | None = None, tolerance: int = 4
) -> list[ModelEvaluation | PointEvaluation]:
    """Every metric for each track the version has a head for (one entry for a one-track model)."""
    version = _version(store, version_id)
    specs = version_tracks(store, version)
    out: list[ModelEvaluation | PointEvaluation] = []
    for spec in specs:
        if spec.kind is TrackKind.POINT:
            out.append(evaluate_points(store, version, spec.name, tolerance))
        else:
            out.append(evaluate_model(store, version.id, spec.name if len(specs) > 1 else None))
    return out


def _version(store: Store, version_id: int | None) -> ModelVersion:
    version = store.models.get(version_id) if version_id is not None else store.models.active()
    if version is None:
        raise TrainingError("No model is active yet: analyse a video or pick a model with --model.")
    return version


def evaluate_points(store: Store, version: ModelVersion, track: str, tolerance: int = 4) -> PointEvaluation:
    """Predicted point events against the track's labelled points, up to the last labelled frame."""
    track_id = store.tracks.resolve(track).id
    counts: dict[str, list[int]] = {}
    videos = 0
    for video in store.videos.list():
        preds = load_predictions(store, video, version.id, track=track)
        everything = [
            s for s in store.segments.list(video.id, all_tracks=True) if s.source in TRUSTED_SOURCES
        ]
        if preds is None or not everything:
            continue
        videos += 1
        until = max(s.end_frame for s in everything)
        events = [e for e in saved_events(store, preds) if e.start_frame < until]
        own = [s for s in everything if s.track_id == track_id]
        for k, name in enumerate(preds.class_names):
            predicted = [e.start_frame for e in events if e.class_index == k]
            truth = [s.start_frame for s in own if s.class_name == name]
            tally = counts.setdefault(name, [0, 0, 0])
            tally[0] += match_events(predicted, truth, tolerance)
            tally[1] += len(predicted)
            tally[2] += len(truth)
    if videos == 0:
        raise TrainingError(
            f"Model #{version.id} has no predictions for '{track}' on a labelled video: analyse one first."
        )
    per_class = {name: (m, p, t) for name, (m, p, t) in counts.items()}
    return PointEvaluation(version, track, videos, tolerance, per_class)


def evaluate_model(store: Store, version_id: int | None = None, track: str | None = None) -> ModelEvaluation:
    """Every metric for one version (default: the active one) over all labelled videos, for one
    state track (default: the first)."""
    version = _version(store, version_id)
    track_id = None if track is None else store.tracks.resolve(track).id
    names: tuple[str, ...] = version.class_names
    true_all: list[np.ndarray] = []
    pred_all: list[np.ndarray] = []
    gt: dict[str, Any] = {"database": {}}
    results: dict[str, Any] = {"results": {}}
    truth_iv: list[Interval] = []
    pred_iv: list[Interval] = []
    videos = 0
    for video in store.videos.list():
        preds = load_predictions(store, video, version.id, track=track)
        if preds is None or store.segments.labelled_frames(video.id, track_id) == 0:
            continue
        videos += 1
        names = preds.class_names
        n = preds.frame_scores.shape[0]
        truth = frame_truth(store, video.id, n, names, track_id)
        scored = ~np.isnan(preds.frame_scores).any(axis=1)
        keep = scored & (truth != UNLABELLED)
        true_all.append(truth[keep])
        pred_all.append(np.nan_to_num(preds.frame_scores).argmax(axis=1)[keep])

        def secs(frame: int, v: Any = video) -> float:
            return frame_to_seconds(frame, v.timestamps_s, v.fps)

        key = str(video.id)
        anns = []
        for seg in store.segments.list(video.id, track_id=track_id):
            if seg.source in TRUSTED_SOURCES and seg.class_name in names and seg.class_name != BACKGROUND:
                anns.append(
                    {"segment": [secs(seg.start_frame), secs(seg.end_frame)], "label": seg.class_name}
                )
                truth_iv.append(
                    (video.id * 1000 + names.index(seg.class_name), seg.start_frame, seg.end_frame)
                )
        gt["database"][key] = {"annotations": anns, "subset": "validation"}
        labelled = truth != UNLABELLED
        events = [e for e in saved_events(store, preds) if labelled[e.start_frame : e.end_frame].any()]
        results["results"][key] = [
            {
                "segment": [secs(e.start_frame), secs(e.end_frame)],
                "label": names[e.class_index],
                "score": e.score,
            }
            for e in events
        ]
        pred_iv.extend((video.id * 1000 + e.class_index, e.start_frame, e.end_frame) for e in events)
    if videos == 0:
        raise TrainingError(
            f"Model #{version.id} has no predictions on a labelled video: "
            "analyse a labelled video with it first."
        )
    frames = frame_metrics(np.concatenate(true_all), np.concatenate(pred_all), len(names))
    thresholds = {str(k): float(v) for k, v in version.summary.get("suggested_thresholds", {}).items()}
    return ModelEvaluation(
        version=version,
        videos=videos,
        frames=frames,
        segment_f1=segment_f1_scores(truth_iv, pred_iv),
        map_anet=activitynet_map(gt, results, MAP_TIOU_THRESHOLDS),
        map_thumos=activitynet_map(gt, results, THUMOS_TIOU_THRESHOLDS),
        thresholds=thresholds if track is None else {},
        track=track or "",
        class_names=names,
    )
