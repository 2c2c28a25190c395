"""The Review queue dock: the open video's most informative windows, best first.

Clicking an entry (or Analyse › Next to review) puts the playhead there and selects the
window, so a class key relabels it at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from gui.state.learning import LearningState, describe

DISAGREES_COLOR = "#e06060"


class ReviewPanel(QWidget):
    def __init__(self, learning: LearningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learning = learning
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)  # long reasons wrap instead of hiding behind a scroll bar
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemClicked.connect(self._go)
        self.list.itemActivated.connect(self._go)
        self.next = QPushButton("Next to review (N)")
        self.next.clicked.connect(learning.next_to_review)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.next)
        learning.review_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        items = self.learning.review_items
        names = self.learning.class_names()
        self.list.clear()
        for index, entry in enumerate(items):
            item = QListWidgetItem(f"{index + 1}. {describe(entry, names)}")
            item.setData(Qt.ItemDataRole.UserRole, index)
            if entry.reason == "disagrees":
                item.setForeground(QColor(DISAGREES_COLOR))
                item.setToolTip(
                    "The model disagrees with a human label here: fix the label or teach the model."
                )
            else:
                item.setToolTip("The model is unsure here: a label at this place teaches it most.")
            self.list.addItem(item)
        disagree = sum(1 for i in items if i.reason == "disagrees")
        if self.learning.current.predictions is None:
            self.header.setText("Analyse this video to see where the model needs you.")
        elif not items:
            self.header.setText("Nothing to review: the model agrees with every label.")
        else:
            self.header.setText(
                f"{len(items)} places, most informative first: {disagree} disagree with your labels "
                f"(red), {len(items) - disagree} uncertain."
            )
        self.next.setEnabled(bool(items))

    def _go(self, item: QListWidgetItem) -> None:
        index = int(item.data(Qt.ItemDataRole.UserRole))
        if 0 <= index < len(self.learning.review_items):
            self.learning.go_to(self.learning.review_items[index])
