"""Analysis progress: windows done/total, clips per second, time left, and Cancel."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from gui.jobs import AnalysisProgress, ClusterProgress
from gui.state import JobRunner
from gui.state.runner import ANALYSE_JOB


class AnalysisPanel(QWidget):
    def __init__(self, state: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.label = QLabel()
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(state.cancel_analysis)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Analysing"))
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.cancel)
        state.analysis_progress.connect(self._on_progress)
        state.jobs.changed.connect(self._on_jobs)
        self.setVisible(False)

    def _on_jobs(self) -> None:
        running = self.state.jobs.is_running(ANALYSE_JOB)
        if running and not self.isVisible():
            self.bar.setRange(0, 0)  # busy until the model is loaded
            self.label.setText("loading the model…")
        self.setVisible(running)

    def _on_progress(self, item: object) -> None:
        if isinstance(item, ClusterProgress):
            self._on_cluster(item)
            return
        if not isinstance(item, AnalysisProgress):
            return
        p = item.progress
        self.bar.setRange(0, max(p.total, 1))
        self.bar.setValue(p.done)
        self.bar.setFormat(f"{item.video_name}: %v/%m windows")
        eta = p.eta_s
        left = "–" if math.isnan(eta) else f"{eta:.0f} s left"
        videos = f"video {item.video_number}/{item.video_total}, " if item.video_total > 1 else ""
        self.label.setText(f"{videos}{p.clips_per_s:.1f} clips/s, {left}")

    def _on_cluster(self, p: ClusterProgress) -> None:
        """Windows stored over every video, however the cluster spreads them over its workers."""
        self.bar.setRange(0, max(p.total, 1))
        self.bar.setValue(p.done)
        self.bar.setFormat("cluster: %v/%m windows")
        eta = p.eta_s
        left = "–" if math.isnan(eta) else f"{eta:.0f} s left"
        workers = (
            "starting workers" if p.workers == 0 else f"{p.workers} worker{'s' if p.workers != 1 else ''}"
        )
        self.label.setText(
            f"{p.videos_done}/{p.videos_total} videos, {workers}, {p.clips_per_s:.1f} clips/s, {left}"
        )
