"""Running jobs: at most one per name, each on its own thread, plus what analysis reports.

The store changes a job makes reach the views as events through the bridge; this model
only says which jobs run, how far analysis has got and on which device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from core.cluster.ray_analysis import ClusterOutcome, ClusterSettings
from core.store import Store
from gui import jobs
from gui.workers import JobContext, Jobs, Worker

log = logging.getLogger(__name__)

ANALYSE_JOB = "analysis"
INT8_JOB = "preparing int8"


class JobRunner(QObject):
    analysis_progress = Signal(object)  # jobs.AnalysisProgress
    analysing_changed = Signal()  # ``analysing`` percentages
    analysis_finished = Signal()  # views may show at once what they were batching up
    device_changed = Signal()  # ``device_label``
    error = Signal(str, str)
    message = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = Jobs(self)
        self.analysing: dict[int, float] = {}
        self.device_label = "device: chosen when analysis starts"
        self.precision = "auto"  # auto | fp32 | int8, the Analyse › Precision menu
        self._int8_for: tuple[Store, int] | None = None  # model to quantize once its analysis ends

    def is_running(self, name: str) -> bool:
        return self.jobs.is_running(name)

    def start_job(
        self,
        name: str,
        job: Callable[[JobContext], object],
        on_success: Callable[[object], None] | None = None,
        connect: Callable[[Worker], None] | None = None,
    ) -> Worker | None:
        if self.jobs.is_running(name):
            self.message.emit(f"{name.capitalize()} is already running.")
            return None
        worker = self.jobs.start(name, job)
        worker.failed.connect(self.error)
        if on_success is not None:
            worker.succeeded.connect(self.jobs.on_gui(name, on_success))
        if connect is not None:
            connect(worker)
        self.jobs.launch(name)
        return worker

    def shutdown(self) -> list[str]:
        """Stop every job; returns those whose thread is still running (kept alive, see ``Jobs``)."""
        stuck = self.jobs.shutdown()
        if self.analysing:
            self.analysing.clear()
            self.analysing_changed.emit()
        return stuck

    # --- analysis ---------------------------------------------------------------------------------

    def analyse(
        self, store: Store, video_ids: list[int], stride: int = 8, batch_size: int = 4
    ) -> Worker | None:
        precision = self.precision
        return self._start_analysis(
            store,
            video_ids,
            lambda ctx: jobs.analyse(store, video_ids, ctx, stride, batch_size, precision),
        )

    def analyse_on_cluster(
        self, store: Store, video_ids: list[int], settings: ClusterSettings
    ) -> Worker | None:
        """Analyse on Ray with the precision chosen in Analyse › Precision, like a local analysis."""
        chosen = replace(settings, precision=self.precision)
        return self._start_analysis(
            store, video_ids, lambda ctx: jobs.analyse_on_cluster(store, video_ids, ctx, chosen)
        )

    def _start_analysis(
        self, store: Store, video_ids: list[int], job: Callable[[JobContext], object]
    ) -> Worker | None:
        if not video_ids:
            self.message.emit("Add a video first.")
            return None

        def connect(worker: Worker) -> None:
            worker.progress.connect(self._on_progress)
            worker.batch.connect(self._on_batch)
            worker.finished.connect(self._on_finished)
            worker.cancelled.connect(
                self.jobs.on_gui(
                    ANALYSE_JOB, lambda: self.message.emit("Analysis cancelled; finished windows are kept.")
                )
            )

        if self.jobs.is_running(ANALYSE_JOB):
            self.message.emit("Analysis is already running.")
            return None
        self.analysing = dict.fromkeys(video_ids, 0.0)
        self._store = store
        self.analysing_changed.emit()
        return self.start_job(ANALYSE_JOB, job, self._analysis_done, connect)

    def _analysis_done(self, results: object) -> None:
        if isinstance(results, ClusterOutcome):
            self.message.emit(
                f"Analysis finished: {results.windows_computed} windows on {results.workers} cluster "
                f"worker(s), {results.clips_per_s:.1f} clips/s."
            )
        else:
            self.message.emit("Analysis finished.")
        wanted, self._int8_for = self._int8_for, None
        if wanted is None:
            return
        self.prepare_int8(*wanted)

    def prepare_int8(self, store: Store, version_id: int) -> Worker | None:
        """Quantize and verify a model version in the background, so ``auto`` can use int8 next."""
        return self.start_job(
            INT8_JOB,
            lambda ctx: jobs.prepare_int8(store, ctx, version_id),
            lambda verdict: self.message.emit(str(verdict)),
            lambda worker: worker.progress.connect(self._on_engine_note),  # a bound slot: GUI thread
        )

    def _on_engine_note(self, note: object) -> None:
        if isinstance(note, jobs.EngineNote):
            self.message.emit(note.text)

    def cancel_analysis(self) -> None:
        self.jobs.cancel(ANALYSE_JOB)

    def _on_progress(self, p: object) -> None:
        if isinstance(p, jobs.AnalysisProgress) and p.progress.total > 0:
            self.analysing[p.video_id] = 100.0 * p.progress.done / p.progress.total
            self.analysis_progress.emit(p)
            self.analysing_changed.emit()
        elif isinstance(p, jobs.ClusterProgress) and p.total > 0:
            # Chunks of every video run at once across the cluster: each shows the overall share.
            self.analysing = dict.fromkeys(self.analysing, 100.0 * p.done / p.total)
            self.analysis_progress.emit(p)
            self.analysing_changed.emit()

    def _on_batch(self, item: object) -> None:
        if isinstance(item, jobs.EngineNote):
            self.message.emit(item.text)
        elif isinstance(item, jobs.AnalysisStarted):
            self.device_label = item.device_label
            self._int8_for = (self._store, item.model_id) if item.int8_wanted else None
            self.device_changed.emit()

    def _on_finished(self) -> None:
        self.analysing.clear()
        self.analysing_changed.emit()
        self.analysis_finished.emit()
