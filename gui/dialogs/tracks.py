"""Track manager: add a state or point track (optionally sharing another's classes), name its
subject, rename, move or delete it; its classes are listed with the modifiers they offer (the
class manager edits them for the active track). Every change is one undo step."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QTableWidgetItem,
    QWidget,
)

from gui.dialogs.list_editor import build_list_editor
from gui.state import ProjectState


class NewTrackDialog(QDialog):
    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add track")
        self.name = QLineEdit()
        self.subject = QLineEdit()
        self.point = QCheckBox("Point events (one frame each)")
        self.like = QComboBox()
        self.like.addItem("its own classes", None)
        for track in state.tracks:
            self.like.addItem(f"the classes of {track.name}", track.id)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Subject", self.subject)
        form.addRow("", self.point)
        form.addRow("Classes", self.like)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class TracksDialog(QDialog):
    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Tracks")
        self.table = build_list_editor(
            self,
            ["Track", "Kind", "Subject", "Classes"],
            (
                ("Add…", self.add),
                ("Rename…", self.rename),
                ("Subject…", self.set_subject),
                ("Move up", lambda: self.move(-1)),
                ("Move down", lambda: self.move(1)),
                ("Delete", self.delete),
            ),
        )
        state.classes_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        tracks = self.state.tracks
        self.table.setRowCount(len(tracks))
        classes: dict[int, list[str]] = {}
        for cls in self.state.all_classes or self.state.classes:  # with the modifiers each offers
            offered = f" ({', '.join(cls.modifiers)})" if cls.modifiers else ""
            classes.setdefault(cls.track_id, []).append(cls.name + offered)
        for row, track in enumerate(tracks):
            cells = (track.name, track.kind.value, track.subject or "", ", ".join(classes.get(track.id, [])))
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))

    def _selected(self) -> int | None:
        row = self.table.currentRow()
        tracks = self.state.tracks
        return tracks[row].id if 0 <= row < len(tracks) else None

    def add(self) -> None:
        form = NewTrackDialog(self.state, self)
        if form.exec() and form.name.text().strip():
            self.state.add_track(
                form.name.text(), form.point.isChecked(), form.subject.text() or None, form.like.currentData()
            )

    def rename(self) -> None:
        track_id = self._selected()
        if track_id is not None:
            name, ok = QInputDialog.getText(self, "Rename track", "New name:")
            if ok and name.strip():
                self.state.change_track(track_id, name=name)

    def set_subject(self) -> None:
        track_id = self._selected()
        if track_id is not None:
            subject, ok = QInputDialog.getText(self, "Track subject", "Subject (empty for none):")
            if ok:
                self.state.change_track(track_id, subject=subject.strip() or None)

    def move(self, delta: int) -> None:
        track_id = self._selected()
        if track_id is not None and self.state.move_track(track_id, delta):
            ids = [t.id for t in self.state.tracks]
            self.table.selectRow(ids.index(track_id))

    def delete(self) -> None:
        track_id = self._selected()
        if track_id is None:
            return
        answer = QMessageBox.question(
            self, "Delete track", "Delete this track with its classes and labels? (Undo brings them back.)"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.state.delete_track(track_id)
