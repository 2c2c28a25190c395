"""The learning loop as the GUI holds it: fine-tuning, model versions, the review queue.

It asks ``core`` and signals the outcome; a new or newly active model reaches the timeline,
status bar and video list as a store event through the bridge, so nothing here has to tell
them. Everything that loads a network (training, importing, evaluating) runs as a job.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from core.analysis.backends.select import int8_wanted
from core.errors import AppError
from core.labels.overview import VideoStatus
from core.learning.review import ReviewItem, review_queue
from core.learning.training import TrainConfig, TrainingProgress, TrainingResult, estimate_seconds
from core.learning.training.dataset import build_training_set
from core.model.registry import export_version, project_class_names
from core.model.spec import DEFAULT_SPEC, InputSpec
from core.store import Store
from core.store.records import ModelVersion
from gui import learning_jobs
from gui.state.bridge import EventBridge
from gui.state.current import CurrentVideo
from gui.state.project import ProjectState
from gui.state.runner import JobRunner
from gui.workers import Worker

log = logging.getLogger(__name__)

TRAIN_JOB = "training"
IMPORT_JOB = "import weights"
EXPORT_JOB = "export model"
COMPARE_JOB = "evaluation"
CACHE_JOB = "clear feature cache"
REVIEW_LIMIT = 50
T = TypeVar("T")


@dataclass(frozen=True)
class TrainingPlan:
    """What the Fine-tune dialog shows before Start: data size, time, or why it cannot run."""

    windows: int
    videos: int
    seconds: float
    problem: str = ""
    events: str = ""
    """How many labelled events the validation score will rest on."""


class LearningState(QObject):
    training_progress = Signal(object)  # TrainingProgress
    training_finished = Signal(object)  # TrainingResult, or None when cancelled or failed
    models_changed = Signal()
    review_changed = Signal()
    comparison_ready = Signal(object)  # learning_jobs.Comparison
    busy_changed = Signal()  # an import/export/evaluation job started or ended

    def __init__(
        self,
        project: ProjectState,
        current: CurrentVideo,
        runner: JobRunner,
        bridge: EventBridge,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project, self.current, self.runner = project, current, runner
        self.loss_points: list[tuple[float, float]] = []  # (epoch position, loss)
        self.f1_points: list[tuple[float, float]] = []  # (epoch, validation macro-F1)
        self.last_progress: TrainingProgress | None = None
        self.last_result: TrainingResult | None = None
        self.review_items: list[ReviewItem] = []
        self._visited: set[tuple[int, int]] = set()
        self._device: tuple[str, str] | None = None
        self._review_timer = QTimer(self)
        self._review_timer.setSingleShot(True)
        self._review_timer.setInterval(300)
        self._review_timer.timeout.connect(self.refresh_review)
        self._plans: dict[tuple[object, ...], TrainingPlan] = {}
        for signal in (current.predictions_changed, current.labels_changed, current.video_changed):
            signal.connect(self._review_timer.start)
        for signal in (bridge.segments_changed, bridge.classes_changed, bridge.models_changed):
            signal.connect(self._plans.clear)  # what a run would learn from may differ now
        project.project_changed.connect(self._plans.clear)
        project.model_changed.connect(self.models_changed)
        runner.jobs.changed.connect(self.busy_changed)

    @property
    def store(self) -> Store:
        return self.project.store  # follows a project switch

    # --- fine-tuning ------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.runner.jobs.is_running(TRAIN_JOB)

    def device(self) -> tuple[str, str]:
        """(torch device type, label) training would use; asked once, torch is slow to probe."""
        if self._device is None:
            from core.model.device import choose_device

            choice = choose_device()
            self._device = (choice.device.type, choice.label)
        return self._device

    def labelled_videos(self) -> list[VideoStatus]:
        return [s for s in self.project.statuses if s.labelled_pct > 0 and not s.missing]

    def plan(self, config: TrainConfig) -> TrainingPlan:
        """Labelled windows the run would learn from and its estimated duration here.

        The store is read once per choice of videos and stride (until labels, classes or
        models change); epochs, rate and batch size only change the estimate, so turning a
        spin box in the Fine-tune dialog queries nothing.
        """
        key = (config.video_ids, config.stride)
        counted = self._plans.get(key)
        if counted is None:
            counted = self._plans[key] = self._count(config)
        if counted.problem:
            return counted
        return replace(counted, seconds=estimate_seconds(config, counted.windows, self.device()[0]))

    def _count(self, config: TrainConfig) -> TrainingPlan:
        active = self.store.models.active()
        window = InputSpec.from_json(active.input_spec_json).window if active else DEFAULT_SPEC.window
        try:
            names = project_class_names(self.store)
            data = build_training_set(self.store, names, window, config.stride, config.video_ids)
        except AppError as exc:
            return TrainingPlan(0, 0, math.nan, str(exc))
        return TrainingPlan(int(data.counts().sum()), len(data.videos), math.nan, events=data.events_text())

    def start_training(self, config: TrainConfig) -> Worker | None:
        if self.training:
            self.project.message.emit("A training run is already going.")
            return None
        self.loss_points, self.f1_points = [], []
        self.last_progress, self.last_result = None, None

        def connect(worker: Worker) -> None:
            worker.progress.connect(self._on_progress)
            worker.cancelled.connect(self._on_cancelled)
            on_failed = self.runner.jobs.on_gui(TRAIN_JOB, lambda *_: self.training_finished.emit(None))
            worker.failed.connect(on_failed)

        self.project.message.emit(f"Fine-tuning ({config.mode})…")
        return self.runner.start_job(
            TRAIN_JOB, lambda ctx: learning_jobs.train(self.store, config, ctx), self._on_trained, connect
        )

    def cancel_training(self) -> None:
        self.runner.jobs.cancel(TRAIN_JOB)

    def _on_progress(self, item: object) -> None:
        if not isinstance(item, TrainingProgress):
            return
        self.last_progress = item
        if item.phase == "train" and item.steps > 0 and math.isfinite(item.loss):
            self.loss_points.append((item.epoch - 1 + item.step / item.steps, item.loss))
        elif item.phase == "validate" and math.isfinite(item.val_macro_f1):
            self.f1_points.append((float(item.epoch), item.val_macro_f1))
        self.training_progress.emit(item)

    def _on_trained(self, result: object) -> None:
        if not isinstance(result, TrainingResult):
            return
        self.last_result = result
        m = result.metrics
        self.project.message.emit(
            f"Model #{result.version.id} trained in {result.seconds:.1f} s: "
            f"validation macro-F1 {m.get('val_macro_f1', math.nan):.3f}."
        )
        self._model_switched()
        self.training_finished.emit(result)
        if self.runner.precision == "auto" and int8_wanted(self.store, result.version):
            self.runner.prepare_int8(self.store, result.version.id)  # its own variants, in the background

    def _on_cancelled(self) -> None:
        self.project.message.emit(
            "Training cancelled: no model was registered; the same run resumes from its last epoch."
        )
        self.training_finished.emit(None)

    # --- model versions ---------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        return self._guard(self.store.models.list) or []

    def use_model(self, version_id: int) -> None:
        """Make a version the active model; the timeline shows its predictions (if it has any)."""
        if self.training:
            self.project.message.emit("Wait for the training run to finish before switching models.")
            return
        try:
            self.store.models.set_active(version_id)
        except AppError as exc:
            self.project.error.emit(str(exc), "")
            return
        self.project.message.emit(f"Model #{version_id} is now the active model.")
        self._model_switched()

    def export_model(self, version_id: int, target: str) -> None:
        self.runner.start_job(
            EXPORT_JOB,
            lambda _ctx: export_version(self.store, version_id, target),
            lambda out: self.project.message.emit(f"Model #{version_id} exported to {out}."),
        )

    def import_weights(self, path: str) -> None:
        def done(version: object) -> None:
            if isinstance(version, ModelVersion):
                self.project.message.emit(
                    f"Imported model #{version.id} {version.name}; press Use in Model versions to try it."
                )
            self.models_changed.emit()

        def connect(worker: Worker) -> None:
            worker.progress.connect(
                self.runner.jobs.on_gui(IMPORT_JOB, lambda text: self.project.message.emit(str(text)))
            )

        self.project.message.emit("Importing weights…")
        self.runner.start_job(
            IMPORT_JOB, lambda ctx: learning_jobs.import_weights(self.store, path, ctx), done, connect
        )

    def compare(self, version_ids: tuple[int, ...]) -> None:
        self.runner.start_job(
            COMPARE_JOB,
            lambda ctx: learning_jobs.compare(self.store, version_ids, ctx),
            self.comparison_ready.emit,
        )

    def clear_feature_cache(self) -> None:
        if self.training:
            self.project.message.emit("The feature cache is in use by the training run.")
            return
        self.runner.start_job(
            CACHE_JOB,
            lambda _ctx: learning_jobs.clear_feature_cache(self.store),
            lambda n: self.project.message.emit(f"Cleared the feature cache ({n} entries)."),
        )

    def _model_switched(self) -> None:
        # The status bar, timeline and video list follow the store's models event.
        self.current.reload_predictions()  # at once: the review queue below ranks them
        self.models_changed.emit()
        self._review_timer.stop()
        self.refresh_review()  # the queue ranks the new model's doubts, at once

    # --- review queue -----------------------------------------------------------------------------

    def refresh_review(self) -> None:
        video = self.current.video
        if video is None or self.current.predictions is None:
            self.review_items = []
        else:
            track = self.project.active_track  # the queue ranks the active track's head
            name = None if track is None else track.name
            self.review_items = (
                self._guard(lambda: review_queue(self.store, video, limit=REVIEW_LIMIT, track=name)) or []
            )
        self.review_changed.emit()

    def next_to_review(self) -> ReviewItem | None:
        """Go to the most informative place not yet visited (wrapping round at the end)."""
        self._review_timer.stop()
        self.refresh_review()
        if not self.review_items:
            self.project.message.emit("Nothing to review here: analyse this video first.")
            return None
        fresh = [i for i in self.review_items if (i.video_id, i.start_frame) not in self._visited]
        if not fresh:
            self._visited.clear()
            fresh = self.review_items
        self.go_to(fresh[0])
        return fresh[0]

    def go_to(self, item: ReviewItem) -> None:
        """Put the playhead on the window's centre and select the window, ready to relabel."""
        if self.current.video is None or item.video_id != self.current.video.id:
            return
        self._visited.add((item.video_id, item.start_frame))
        self.current.set_frame(item.centre_frame)
        self.current.select_range(item.start_frame, item.end_frame)
        rank = self.review_items.index(item) + 1 if item in self.review_items else 0
        self.project.message.emit(
            f"To review {rank}/{len(self.review_items)}: {describe(item, self.class_names())}."
        )

    def class_names(self) -> tuple[str, ...]:
        preds = self.current.predictions
        return preds.class_names if preds is not None else ()

    def _guard(self, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except AppError as exc:
            log.warning("%s", exc)
            self.project.error.emit(str(exc), "")
            return None


def describe(item: ReviewItem, names: tuple[str, ...]) -> str:
    """One line for the review list and the status bar."""

    def name(index: int | None) -> str:
        return names[index] if index is not None and 0 <= index < len(names) else "?"

    if item.reason == "disagrees":
        why = f"model says {name(item.predicted)}, you said {name(item.human)}"
    else:
        why = f"model unsure (best guess {name(item.predicted)})"
    return f"frames {item.start_frame}–{item.end_frame}: {why}, score {item.score:.2f}"
