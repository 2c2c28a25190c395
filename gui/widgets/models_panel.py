"""The Model versions dock: every version with mode, date, metrics and parent; use, compare,
export and import. It asks ``LearningState`` for each change and redraws on its signals."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.learning.training.closed_form import val_events_text
from core.store.records import ModelVersion
from gui import file_dialogs
from gui.state.learning import COMPARE_JOB, EXPORT_JOB, IMPORT_JOB, LearningState

COLUMNS = ("", "#", "Mode", "Val F1", "Created", "Parent", "Name")


def metric(version: ModelVersion, key: str) -> str:
    value = version.metrics.get(key)
    return f"{value:.3f}" if isinstance(value, int | float) and math.isfinite(value) else "–"


def val_f1_text(version: ModelVersion) -> str:
    """The validation macro-F1 and, where known, how many held-out events it rests on."""
    events = version.metrics.get("val_events")
    suffix = f" ({events} ev)" if isinstance(events, int) else ""
    return metric(version, "val_macro_f1") + suffix


def row_texts(version: ModelVersion, active_id: int | None) -> tuple[str, ...]:
    return (
        "●" if version.id == active_id else "",
        str(version.id),
        version.mode or "untrained",
        val_f1_text(version),
        version.created_at.strftime("%m-%d %H:%M"),
        "" if version.parent_id is None else f"#{version.parent_id}",
        version.name,
    )


class ModelsPanel(QWidget):
    def __init__(self, learning: LearningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learning = learning
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the name elides
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())

        self.use = QPushButton("Use")
        self.use.setToolTip("Make the selected version the active model (the timeline follows)")
        self.compare = QPushButton("Compare")
        self.compare.setToolTip("Select two versions to compare their metrics side by side")
        self.export = QPushButton("Export…")
        self.export.setToolTip("Save the selected version as a .safetensors checkpoint")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import a .safetensors checkpoint or the Sports-1M C3D port")
        self.use.clicked.connect(self.use_selected)
        self.compare.clicked.connect(self.compare_selected)
        self.export.clicked.connect(self.export_selected)
        self.import_button.clicked.connect(self.import_file)
        buttons = QHBoxLayout()
        for button in (self.use, self.compare, self.export, self.import_button):
            button.setMinimumWidth(56)  # the dock column may be narrow: the video gets the room
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        learning.models_changed.connect(self.refresh)
        learning.busy_changed.connect(self._update_buttons)
        self.refresh()

    def refresh(self) -> None:
        selected = set(self.selected_ids())
        versions = self.learning.versions()
        active = self.learning.project.model
        active_id = active.id if active is not None else None
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(versions))
        bold = QFont()
        bold.setBold(True)
        for r, version in enumerate(reversed(versions)):  # newest first
            for c, text in enumerate(row_texts(version, active_id)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, version.id)
                item.setToolTip(self._tooltip(version))
                if version.id == active_id:
                    item.setFont(bold)
                self.table.setItem(r, c, item)
            if version.id in selected:
                self.table.selectRow(r)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        items = [self.table.item(r, 1) for r in rows]
        return [int(i.data(Qt.ItemDataRole.UserRole)) for i in items if i is not None]

    def select_ids(self, ids: list[int]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 1)
            if item is not None and int(item.data(Qt.ItemDataRole.UserRole)) in ids:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    def use_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self.learning.use_model(ids[0])

    def compare_selected(self) -> QWidget | None:
        from gui.dialogs.compare_models import CompareDialog

        ids = self.selected_ids()
        if len(ids) != 2:
            return None
        dialog = CompareDialog(self.learning, tuple(ids), self)
        dialog.show()
        return dialog

    def export_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        out, _ = file_dialogs.save_file(
            self, "Export model version", f"model-{ids[0]}.safetensors", "Checkpoints (*.safetensors)"
        )
        if out:
            self.learning.export_model(ids[0], out)

    def import_file(self) -> None:
        path = file_dialogs.open_file(
            self,
            "Import weights",
            "",
            "C3D Labeller checkpoint or Sports-1M C3D port (*.safetensors *.pth *.pt *.pickle);;All (*)",
        )
        if path:
            self.learning.import_weights(path)

    def _update_buttons(self) -> None:
        n = len(self.selected_ids())
        jobs = self.learning.runner.jobs
        self.use.setEnabled(n == 1 and not self.learning.training)
        self.compare.setEnabled(n == 2 and not jobs.is_running(COMPARE_JOB))
        self.export.setEnabled(n == 1 and not jobs.is_running(EXPORT_JOB))
        self.import_button.setEnabled(not jobs.is_running(IMPORT_JOB))

    @staticmethod
    def _tooltip(version: ModelVersion) -> str:
        m = version.metrics
        lines = [
            f"#{version.id} {version.name}",
            f"created {version.created_at:%Y-%m-%d %H:%M}",
            f"file: {Path(version.checkpoint_path).name}",
        ]
        if events_text := val_events_text(m):
            per_class = m.get("val_events_per_class") or {}
            lines.append(f"validation: {events_text}")
            lines.append("  events: " + ", ".join(f"{n} {c}" for n, c in per_class.items()))
        if "val_accuracy" in m:
            lines.append(f"validation accuracy {metric(version, 'val_accuracy')}")
        if "train_windows" in m:
            lines.append(f"{m['train_windows']} training / {m.get('val_windows', 0)} validation windows")
        per_class = m.get("per_class_f1") or {}
        lines += [f"  F1 {name}: {value:.3f}" for name, value in per_class.items()]
        return "\n".join(lines)
