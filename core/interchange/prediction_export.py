"""Exporting a model's predictions: raw per-window probabilities, or post-processed events.

Window probabilities go out as CSV (one row per window, a column per class) or as one ``.npz``
for analysis in numpy; predicted events become ``Span``s marked ``predicted`` with their scores,
so every segment format can write them (ActivityNet as detection results, Label Studio as
predictions). Reading the store and post-processing is ``core.analysis.predictions``'s job, not redone here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from core.analysis.postprocess import PostprocessParams
from core.analysis.predictions import VideoPredictions, events_for, load_predictions
from core.atomic import atomic_write
from core.errors import StoreError
from core.interchange.formats import PREDICTED, Span, VideoLabels
from core.interchange.formats.base import spreadsheet_safe
from core.model.registry import version_tracks
from core.model.spec import InputSpec
from core.store import Store
from core.store.records import TrackKind, Video

WINDOW_FORMATS = {"windows-csv": ".csv", "windows-npz": ".npz"}


def predictions_of(
    store: Store, videos: Sequence[Video], model_version_id: int | None, track: str | None = None
) -> list[tuple[Video, VideoPredictions]]:
    """Each video that has predictions from the model (default: the active one) for ``track``
    (default: the first)."""
    found = []
    for video in videos:
        preds = load_predictions(store, video, model_version_id, track=track)
        if preds is not None:
            found.append((video, preds))
    if not found:
        which = f"model #{model_version_id}" if model_version_id is not None else "the active model"
        raise StoreError(f"No video has predictions from {which}: run 'infer' first.")
    return found


def predicted_items(
    found: Sequence[tuple[Video, VideoPredictions]],
    params: PostprocessParams | None = None,
    subjects: Mapping[str, str | None] | None = None,
) -> list[VideoLabels]:
    """Predicted events as spans; with ``subjects`` (track → subject) each names its track, so
    several tracks' predictions of one video go out together."""
    by_video: dict[int, tuple[Video, list[Span]]] = {}
    for video, preds in found:
        named = subjects is not None
        spans = by_video.setdefault(video.id, (video, []))[1]
        spans.extend(
            Span(
                preds.class_names[e.class_index],
                e.start_frame,
                e.end_frame,
                PREDICTED,
                e.score,
                track=preds.track if named else None,
                subject=(subjects or {}).get(preds.track),
                point=preds.kind is TrackKind.POINT,
            )
            for e in events_for(preds, params)
        )
    return [
        VideoLabels(video, tuple(sorted(spans, key=lambda s: (s.start_frame, s.track or ""))))
        for video, spans in by_video.values()
    ]


def every_track_predictions(
    store: Store, videos: Sequence[Video], model_version_id: int | None
) -> tuple[list[tuple[Video, VideoPredictions]], dict[str, str | None] | None]:
    """Every track's predictions the model has a head for, and the subjects to name them with
    (None when the model has one track: the spans then name no track, as before tracks)."""
    version = store.models.get(model_version_id) if model_version_id is not None else store.models.active()
    if version is None:
        raise StoreError("No model is active yet: run 'infer' first.")
    specs = version_tracks(store, version)
    found = [pair for spec in specs for pair in _found_or_none(store, videos, version.id, spec.name)]
    if not found:
        raise StoreError(f"No video has predictions from model #{version.id}: run 'infer' first.")
    if len(specs) < 2:
        return found, None
    return found, {t.name: t.subject for t in store.tracks.list()}


def _found_or_none(
    store: Store, videos: Sequence[Video], version_id: int, track: str
) -> list[tuple[Video, VideoPredictions]]:
    out = []
    for video in videos:
        preds = load_predictions(store, video, version_id, track=track)
        if preds is not None:
            out.append((video, preds))
    return out


def write_windows(store: Store, found: Sequence[tuple[Video, VideoPredictions]], fmt: str, out: Path) -> Path:
    """Per-window probabilities of every video in one file; ``fmt`` is a key of WINDOW_FORMATS."""
    target = out / f"windows{WINDOW_FORMATS[fmt]}" if out.is_dir() or not out.suffix else out
    names = found[0][1].class_names
    if any(p.class_names != names for _, p in found):
        raise StoreError("The videos were analysed by models with different classes: export them separately.")
    window = InputSpec.from_json(store.models.get(found[0][1].model_version_id).input_spec_json).window
    if fmt == "windows-npz":
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            video_index=np.concatenate(
                [np.full(len(p.starts), i, np.int64) for i, (_, p) in enumerate(found)]
            ),
            starts=np.concatenate([p.starts for _, p in found]),
            probs=np.concatenate([p.probs for _, p in found]).astype(np.float32),
            videos=np.array([v.path for v, _ in found]),
            video_hashes=np.array([v.content_hash for v, _ in found]),
            class_names=np.array(names),
            window=np.int64(window),
        )
        with atomic_write(target, "wb") as f:
            f.write(buffer.getvalue())
        return target
    with atomic_write(target) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(
            [
                "video",
                "video_hash",
                "model_version",
                "start_frame",
                "end_frame",
                *map(spreadsheet_safe, names),
            ]
        )
        for video, preds in found:
            path = spreadsheet_safe(video.path)
            for start, probs in zip(preds.starts.tolist(), preds.probs, strict=True):
                cells = (f"{p:.6g}" for p in probs.tolist())
                writer.writerow(
                    [path, video.content_hash, preds.model_version_id, start, start + window, *cells]
                )
    return target
