"""Analyse › Analyse on a cluster…: where the Ray cluster is and how to use it.

The dialog only builds a ``ClusterSettings`` (remembered in QSettings for next time); the
``JobRunner`` runs it like any analysis: progress in the analysis bar, Cancel, and windows on
the timeline as the workers store them.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.cluster.chunks import DEFAULT_CHUNK_WINDOWS
from core.cluster.ray_analysis import LOCAL, ClusterSettings

_KEY = "cluster/"


def _int(settings: QSettings, name: str, default: int) -> int:
    try:
        return int(str(settings.value(_KEY + name, default)))
    except ValueError:  # a hand-edited settings file: the default, not a crash
        return default


class ClusterDialog(QDialog):
    def __init__(self, settings: QSettings, video_count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Analyse on a cluster")
        self.address = QLineEdit(str(settings.value(_KEY + "address", LOCAL)))
        self.address.setObjectName("cluster_address")
        self.address.setPlaceholderText("local, ray://HOST:10001 or HOST:6379")
        self.address.setToolTip(
            "'local' starts Ray on this computer; a cluster's address comes from `ray start --head`. "
            "Every node must reach this project's store and files folder (see docs/scale.md)."
        )
        self.workers = QSpinBox()
        self.workers.setObjectName("cluster_workers")
        self.workers.setRange(0, 4096)
        self.workers.setSpecialValueText("one per GPU, else per core")
        self.workers.setValue(_int(settings, "workers", 0))
        self.threads = QSpinBox()
        self.threads.setRange(1, 256)
        self.threads.setValue(_int(settings, "threads", 1))
        self.threads.setToolTip("CPU threads of each CPU worker")
        self.chunk = QSpinBox()
        self.chunk.setRange(1, 100000)
        self.chunk.setValue(_int(settings, "chunk", DEFAULT_CHUNK_WINDOWS))
        self.chunk.setToolTip("Consecutive windows a worker decodes in one go (one seek per chunk)")

        form = QFormLayout()
        form.addRow("Cluster address", self.address)
        form.addRow("Workers", self.workers)
        form.addRow("Threads per CPU worker", self.threads)
        form.addRow("Windows per chunk", self.chunk)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start = buttons.addButton(
            f"Analyse {video_count} video{'s' if video_count != 1 else ''}",
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.start.setObjectName("cluster_start")
        self.start.setEnabled(video_count > 0)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            QLabel("Stored windows are never computed again: a cancelled run resumes where it stopped.")
        )
        layout.addWidget(buttons)
        self.address.textChanged.connect(
            lambda text: self.start.setEnabled(video_count > 0 and bool(text.strip()))
        )

    def cluster_settings(self) -> ClusterSettings:
        """What was chosen, remembered for next time."""
        address = self.address.text().strip() or LOCAL
        for name, value in (
            ("address", address),
            ("workers", self.workers.value()),
            ("threads", self.threads.value()),
            ("chunk", self.chunk.value()),
        ):
            self.settings.setValue(_KEY + name, value)
        return ClusterSettings(
            address=address,
            workers=self.workers.value() or None,
            threads=self.threads.value(),
            chunk_windows=self.chunk.value(),
        )
