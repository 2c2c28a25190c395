"""The bodies of the learning loop's background jobs: plain compositions of ``core`` calls.

Each runs on a worker thread (see ``gui.workers``), reports through ``ctx`` and never touches Qt.
Training, importing weights and evaluating all load a 78M-parameter network, so none of them
may run on the GUI thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import AppError
from core.learning.assessment import ModelEvaluation, PointEvaluation, evaluate_tracks
from core.learning.feature_cache import FeatureCache
from core.learning.training import TrainConfig, TrainingResult, run_training
from core.store import Store
from core.store.records import ModelVersion
from gui.workers import JobContext

log = logging.getLogger(__name__)


TrackEvaluations = dict[str, ModelEvaluation | PointEvaluation]
"""Track name ("" for a one-track model) → its evaluation."""


@dataclass(frozen=True)
class Comparison:
    """Two versions side by side, each evaluated per track (in the version's track order); an
    evaluation is None where it could not run (``problems``)."""

    versions: tuple[ModelVersion, ...]
    evaluations: tuple[TrackEvaluations | None, ...]
    problems: tuple[str, ...]


def train(store: Store, config: TrainConfig, ctx: JobContext) -> TrainingResult:
    return run_training(store, config, ctx.cancel, ctx.progress)


def import_weights(store: Store, path: str, ctx: JobContext) -> ModelVersion:
    from core.model.weights_import import import_weights as do_import

    videos = [v for v in store.videos.list() if Path(v.path).exists()]
    return do_import(store, path, videos, progress=ctx.progress, cancel=ctx.cancel)


def compare(store: Store, version_ids: tuple[int, ...], ctx: JobContext) -> Comparison:
    versions: list[ModelVersion] = []
    evaluations: list[TrackEvaluations | None] = []
    problems: list[str] = []
    for version_id in version_ids:
        versions.append(store.models.get(version_id))
        if ctx.cancel.is_set():
            break
        try:
            evaluations.append({e.track: e for e in evaluate_tracks(store, version_id)})
            problems.append("")
        except AppError as exc:  # one version without predictions still shows the other
            evaluations.append(None)
            problems.append(str(exc))
    return Comparison(tuple(versions), tuple(evaluations), tuple(problems))


def clear_feature_cache(store: Store) -> int:
    return FeatureCache(store).clear()
