"""Agreement between independent coders of a video: Cohen's kappa (overall and per class) and
segment F1 per pair of coders, one block per track; choose one coding as the video's labels
(the reference), or save your own labels as your coding. Every change is one undo step."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import AppError
from core.labels.agreement import PairAgreement, video_agreement
from core.learning.evaluation import SEGMENT_F1_THRESHOLDS
from gui.state import TeamState

COLUMNS = ["Track", "Coders", "Class", "Kappa", *(f"F1@{t:g}" for t in SEGMENT_F1_THRESHOLDS)]

Row = tuple[str, ...]


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "–"


def agreement_rows(by_track: dict[str, list[PairAgreement]]) -> list[Row]:
    """One row per track and pair (its overall kappa and segment F1), then one per class."""
    rows: list[Row] = []
    for track, pairs in by_track.items():
        for p in pairs:
            coders = f"{p.coder_a} vs {p.coder_b}"
            f1 = tuple(_num(p.segment_f1.get(t, math.nan)) for t in SEGMENT_F1_THRESHOLDS)
            rows.append((track, coders, "(all)", _num(p.kappa), *f1))
            for name, kappa in p.kappa_per_class.items():
                rows.append((track, coders, name, _num(kappa), *("",) * len(f1)))
    return rows


class AgreementDialog(QDialog):
    def __init__(self, team: TeamState, video_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.team, self.state = team, team.state
        self.setWindowTitle("Agreement between coders")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # and its connections go with it
        self.video = QComboBox()
        self.video.currentIndexChanged.connect(self.refresh_table)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.reference = QComboBox()
        self.use_button = QPushButton("Use as the video's labels")
        self.use_button.setToolTip(
            "Replace the video's labels, every track, with this coding (Undo takes it back)"
        )
        self.use_button.clicked.connect(self.use_reference)
        self.clear_after = QCheckBox("then clear the labels for the next coder")
        self.save_button = QPushButton("Save my coding")
        self.save_button.clicked.connect(self.save_mine)

        form = QFormLayout()
        form.addRow("Video", self.video)
        reference = QHBoxLayout()
        reference.addWidget(self.reference, 1)
        reference.addWidget(self.use_button)
        mine = QHBoxLayout()
        mine.addWidget(self.save_button)
        mine.addWidget(self.clear_after, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(QLabel("Reference coding:"))
        layout.addLayout(reference)
        layout.addLayout(mine)
        layout.addWidget(buttons)
        self.state.bridge.videos_changed.connect(self._on_videos)  # a coding saved here or elsewhere
        team.annotator_changed.connect(self._name_save_button)
        self.refresh_videos(video_id)
        self.resize(720, 480)

    def _on_videos(self, _video_id: object) -> None:
        self.refresh_videos()

    def video_id(self) -> int | None:
        data = self.video.currentData()
        return None if data is None else int(data)

    def refresh_videos(self, select: int | None = None) -> None:
        """Every video, those with codings first named with their coders."""
        keep = self.video_id() if select is None else select
        coders = self.state.guard(self.state.store.codings.coders) or {}
        videos = [s.video for s in self.state.statuses]
        videos.sort(key=lambda v: (v.id not in coders, v.id))
        self.video.blockSignals(True)
        self.video.clear()
        for v in videos:
            who = coders.get(v.id, [])
            detail = f"coded by {', '.join(who)}" if who else "no codings yet"
            self.video.addItem(f"{Path(v.path).name} — {detail}", v.id)
        at = self.video.findData(keep) if keep is not None else -1
        self.video.setCurrentIndex(at if at >= 0 else (0 if videos else -1))
        self.video.blockSignals(False)
        self.refresh_table()

    def refresh_table(self) -> None:
        video_id = self.video_id()
        self.table.setRowCount(0)
        self.reference.clear()
        self.save_button.setEnabled(video_id is not None)
        self._name_save_button()
        if video_id is None:
            self.note.setText("Add a video first.")
            self.use_button.setEnabled(False)
            return
        codings = self.state.guard(lambda: self.state.store.codings.list(video_id)) or {}
        for coder in sorted(codings):
            self.reference.addItem(coder)
        self.use_button.setEnabled(bool(codings))
        if len(codings) < 2:
            self.note.setText(
                f"{len(codings)} coding(s) of this video; agreement needs two. Each coder labels the "
                "video and presses “Save my coding” (ticking “clear” leaves it blank for the next)."
            )
            return
        try:
            rows = agreement_rows(video_agreement(self.state.store, video_id))
        except AppError as exc:
            self.note.setText(str(exc))
            return
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c >= 3:  # the numbers line up on their decimal point
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.note.setText(
            "Frame-level Cohen's kappa (unlabelled frames count as a category) and segment F1 at "
            "tIoU 0.1 / 0.25 / 0.5, for each pair of coders and each track."
        )

    def _name_save_button(self) -> None:
        self.save_button.setText(f"Save my coding ({self.team.annotator})")

    def rows(self) -> list[Row]:
        return [
            tuple(
                (self.table.item(r, c) or QTableWidgetItem("")).text()
                for c in range(self.table.columnCount())
            )
            for r in range(self.table.rowCount())
        ]

    def use_reference(self) -> None:
        video_id, coder = self.video_id(), self.reference.currentText()
        if video_id is not None and coder:
            self.team.use_coding(video_id, coder)

    def save_mine(self) -> None:
        video_id = self.video_id()
        if video_id is not None:
            self.team.save_coding(video_id, self.clear_after.isChecked())
