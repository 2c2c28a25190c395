"""A label's modifiers (the ones its class offers, ticked) and its free-text comment."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QWidget,
)

from core.store.records import LabelClass, Segment


class NotesDialog(QDialog):
    def __init__(self, segment: Segment, cls: LabelClass | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name = segment.class_name
        self.setWindowTitle(f"{name}, frames {segment.start_frame}–{segment.end_frame}")
        form = QFormLayout(self)
        offered: Sequence[str] = cls.modifiers if cls is not None else ()
        self.boxes: dict[str, QCheckBox] = {}
        for value in dict.fromkeys([*offered, *segment.modifiers]):  # offered first, then any older ones
            box = QCheckBox(value)
            box.setChecked(value in segment.modifiers)
            self.boxes[value] = box
            form.addRow("" if len(self.boxes) > 1 else "Modifiers", box)
        if not self.boxes:
            form.addRow("Modifiers", QLabel(f"“{name}” offers none (Edit › Label classes… › Modifiers…)"))
        self.comment = QPlainTextEdit(segment.comment or "")
        self.comment.setTabChangesFocus(True)
        self.comment.setFixedHeight(72)
        form.addRow("Comment", self.comment)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def modifiers(self) -> list[str]:
        return [value for value, box in self.boxes.items() if box.isChecked()]

    def comment_text(self) -> str | None:
        return self.comment.toPlainText().strip() or None


def notes_text(segment: Segment) -> str:
    """A label as its tooltip says it: class, modifiers, frames, comment."""
    modifiers = f" ({', '.join(segment.modifiers)})" if segment.modifiers else ""
    comment = f"\n“{segment.comment}”" if segment.comment else ""
    return f"{segment.class_name}{modifiers}, frames {segment.start_frame}–{segment.end_frame}{comment}"
