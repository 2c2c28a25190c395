"""Two model versions side by side: the metrics recorded at training, then (from a worker)
the full evaluation of each against every human label of the project."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.learning.assessment import ModelEvaluation, PointEvaluation
from core.store.records import ModelVersion
from gui.learning_jobs import Comparison
from gui.state.learning import LearningState

Row = tuple[str, tuple[str, ...]]


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and math.isfinite(value) else "–"


def recorded_rows(versions: tuple[ModelVersion, ...]) -> list[Row]:
    def each(get: Any) -> tuple[str, ...]:
        return tuple(get(v) for v in versions)

    return [
        ("Name", each(lambda v: v.name)),
        ("Mode", each(lambda v: v.mode or "untrained")),
        ("Created", each(lambda v: v.created_at.strftime("%Y-%m-%d %H:%M"))),
        ("Parent", each(lambda v: "" if v.parent_id is None else f"#{v.parent_id}")),
        ("Validation macro-F1", each(lambda v: _num(v.metrics.get("val_macro_f1")))),
        ("Validation accuracy", each(lambda v: _num(v.metrics.get("val_accuracy")))),
        ("Training / validation windows", each(lambda v: _windows(v.metrics))),
        ("Epochs run", each(lambda v: str(v.metrics.get("epochs_run", "–")))),
    ]


def _windows(metrics: dict[str, Any]) -> str:
    if "train_windows" not in metrics:
        return "–"
    return f"{metrics['train_windows']} / {metrics.get('val_windows', 0)}"


def evaluation_rows(comparison: Comparison) -> list[Row]:
    """The full evaluation's rows, a block per track (headed by its name when there are several)."""
    tracks: list[str] = []
    for found in comparison.evaluations:
        tracks += [t for t in (found or {}) if t not in tracks]
    rows: list[Row] = []
    for track in tracks:
        evals = tuple(None if found is None else found.get(track) for found in comparison.evaluations)
        if len(tracks) > 1:
            kind = "point events" if any(isinstance(e, PointEvaluation) for e in evals) else "states"
            rows.append((f"Track {track}", tuple(kind if e is not None else "–" for e in evals)))
        states = tuple(e if isinstance(e, ModelEvaluation) else None for e in evals)
        points = tuple(e if isinstance(e, PointEvaluation) else None for e in evals)
        rows += _point_rows(points) if any(points) else _state_rows(states)
    if any(comparison.problems):
        rows.append(("Not evaluated because", tuple(p or "" for p in comparison.problems)))
    return rows


def _state_rows(evals: tuple[ModelEvaluation | None, ...]) -> list[Row]:
    def each(get: Any) -> tuple[str, ...]:
        return tuple("–" if e is None else get(e) for e in evals)

    rows: list[Row] = [
        ("All labels: frame accuracy", each(lambda e: _num(e.frames.accuracy))),
        ("All labels: frame macro-F1", each(lambda e: _num(e.frames.macro_f1))),
    ]
    names = sorted({n for e in evals if e is not None for n in _classes(e)})
    for name in names:
        rows.append((f"  F1 {name}", each(lambda e, n=name: _class_f1(e, n))))
    thresholds = sorted({t for e in evals if e is not None for t in e.segment_f1})
    for t in thresholds:
        rows.append((f"Segment F1 @ tIoU {t:g}", each(lambda e, t=t: _num(e.segment_f1.get(t)))))
    rows.append(("mAP @ 0.5:0.95 (ActivityNet)", each(lambda e: _num(e.average_map))))
    rows.append(("mAP @ 0.5", each(lambda e: _num(e.map_anet.get(0.5)))))
    return rows


def _point_rows(evals: tuple[PointEvaluation | None, ...]) -> list[Row]:
    def each(get: Any) -> tuple[str, ...]:
        return tuple("–" if e is None else get(e) for e in evals)

    tolerance = next(e.tolerance for e in evals if e is not None)
    rows: list[Row] = [(f"All labels: event F1 (±{tolerance} frames)", each(lambda e: _num(e.f1)))]
    names = sorted({n for e in evals if e is not None for n in e.per_class})
    for name in names:
        rows.append((f"  F1 {name}", each(lambda e, n=name: _event_f1(e, n))))
    return rows


def _classes(evaluation: ModelEvaluation) -> tuple[str, ...]:
    return evaluation.class_names or evaluation.version.class_names


def _class_f1(evaluation: ModelEvaluation, name: str) -> str:
    names = _classes(evaluation)
    return _num(float(evaluation.frames.f1[names.index(name)])) if name in names else "–"


def _event_f1(evaluation: PointEvaluation, name: str) -> str:
    if name not in evaluation.per_class:
        return "–"
    matched, predicted, labelled = evaluation.per_class[name]
    return _num(2 * matched / (predicted + labelled) if predicted + labelled else 1.0)


class CompareDialog(QDialog):
    def __init__(
        self, learning: LearningState, version_ids: tuple[int, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.version_ids = version_ids
        self.versions = tuple(learning.store.models.get(v) for v in version_ids)
        self.setWindowTitle("Compare model versions")
        self.table = QTableWidget(0, len(version_ids))
        self.table.setHorizontalHeaderLabels([f"#{v}" for v in version_ids])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.note = QLabel("Evaluating both versions against every human label…")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self._show(recorded_rows(self.versions))
        learning.comparison_ready.connect(self._on_comparison)
        learning.compare(version_ids)
        self.resize(620, 560)

    def rows(self) -> list[tuple[str, tuple[str, ...]]]:
        out = []
        for r in range(self.table.rowCount()):
            header = self.table.verticalHeaderItem(r)
            cells = tuple(
                (self.table.item(r, c) or QTableWidgetItem("")).text()
                for c in range(self.table.columnCount())
            )
            out.append((header.text() if header is not None else "", cells))
        return out

    def _show(self, rows: list[Row]) -> None:
        start = self.table.rowCount()
        self.table.setRowCount(start + len(rows))
        for r, (label, values) in enumerate(rows, start=start):
            self.table.setVerticalHeaderItem(r, QTableWidgetItem(label))
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)

    def _on_comparison(self, comparison: object) -> None:
        if not isinstance(comparison, Comparison):
            return
        if tuple(v.id for v in comparison.versions) != self.version_ids:
            return
        self._show(evaluation_rows(comparison))
        self.note.setText(
            "Validation rows come from each training run's held-out windows; “All labels” rows score "
            "each version's latest predictions against every human label, training data included."
        )
