"""Class manager: add, rename, recolour, set the shortcut key and the modifiers a class offers,
delete (keeping or moving segments). It edits the active track's classes; each change is one undo step."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QInputDialog,
    QMessageBox,
    QTableWidgetItem,
    QWidget,
)

from core.store.records import BACKGROUND
from gui.dialogs.list_editor import build_list_editor
from gui.state import ProjectState


class ClassesDialog(QDialog):
    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Label classes")
        self.table = build_list_editor(
            self,
            ["Class", "Colour", "Key", "Modifiers"],
            (
                ("Add…", self.add),
                ("Rename…", self.rename),
                ("Colour…", self.recolour),
                ("Key…", self.set_key),
                ("Modifiers…", self.set_modifiers),
                ("Delete…", self.delete),
            ),
        )
        state.classes_changed.connect(self.refresh)
        self.refresh()
        self.resize(600, 360)

    def refresh(self) -> None:
        classes = self.state.classes
        self.table.setRowCount(len(classes))
        for row, cls in enumerate(classes):
            name = QTableWidgetItem(cls.name)
            name.setData(Qt.ItemDataRole.UserRole, cls.id)
            colour = QTableWidgetItem(cls.color)
            colour.setBackground(QColor(cls.color))
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, colour)
            self.table.setItem(row, 2, QTableWidgetItem(cls.shortcut or ""))
            self.table.setItem(row, 3, QTableWidgetItem(", ".join(cls.modifiers)))

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def add(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Name of the new class:")
        if ok and name.strip():
            self.state.add_class(name)

    def rename(self) -> None:
        class_id = self.selected_id()
        cls = None if class_id is None else self.state.class_by_id(class_id)
        if cls is None:
            return
        name, ok = QInputDialog.getText(self, "Rename class", "New name:", text=cls.name)
        if ok and name.strip():
            self.state.rename_class(cls.id, name)

    def recolour(self) -> None:
        class_id = self.selected_id()
        cls = None if class_id is None else self.state.class_by_id(class_id)
        if cls is None:
            return
        colour = QColorDialog.getColor(QColor(cls.color), self, f"Colour of {cls.name}")
        if colour.isValid():
            self.state.recolour_class(cls.id, colour.name())

    def set_key(self) -> None:
        class_id = self.selected_id()
        cls = None if class_id is None else self.state.class_by_id(class_id)
        if cls is None:
            return
        key, ok = QInputDialog.getText(
            self, "Class key", f"Key that assigns {cls.name} (empty: none):", text=cls.shortcut or ""
        )
        if ok:
            self.state.set_class_shortcut(cls.id, key.strip() or None)

    def set_modifiers(self) -> None:
        class_id = self.selected_id()
        cls = None if class_id is None else self.state.class_by_id(class_id)
        if cls is None:
            return
        text, ok = QInputDialog.getText(
            self,
            "Modifiers",
            f"Modifiers a {cls.name} label may carry, separated by commas (such as left, right):",
            text=", ".join(cls.modifiers),
        )
        if ok:
            self.state.set_class_modifiers(cls.id, [m.strip() for m in text.split(",") if m.strip()])

    def delete(self) -> None:
        class_id = self.selected_id()
        cls = None if class_id is None else self.state.class_by_id(class_id)
        if cls is None or cls.name == BACKGROUND:
            return
        others = [c for c in self.state.classes if c.id != cls.id]
        box = QMessageBox(self)
        box.setWindowTitle("Delete class")
        box.setText(f"Delete the class “{cls.name}”? Its segments can go with it or move to another class.")
        delete_segments = box.addButton("Delete its segments", QMessageBox.ButtonRole.DestructiveRole)
        move = box.addButton("Move segments to…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is delete_segments:
            self.state.delete_class(cls.id, None)
        elif box.clickedButton() is move:
            names = [c.name for c in others]
            name, ok = QInputDialog.getItem(self, "Move segments", "Move its segments to:", names, 0, False)
            if ok:
                target = next(c for c in others if c.name == name)
                self.state.delete_class(cls.id, target.id)
