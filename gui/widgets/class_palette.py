"""The class palette: every class with its colour and key, the one new segments get highlighted.

The current class decides what the next drawn segment becomes, so it is always on screen;
a click chooses it (and relabels nothing), as its key does when nothing is selected.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from core.store.records import BACKGROUND, LabelClass
from gui.state import ProjectState

SWATCH = 12


def class_keys(classes: list[LabelClass]) -> list[tuple[str, LabelClass]]:
    """0 for background, 1–9 for the other classes in order, plus each class's own key."""
    keys: list[tuple[str, LabelClass]] = []
    others = [c for c in classes if c.name != BACKGROUND]
    for cls in classes:
        if cls.name == BACKGROUND:
            keys.append(("0", cls))
    keys += [(str(n), cls) for n, cls in enumerate(others[:9], start=1)]
    keys += [(cls.shortcut, cls) for cls in classes if cls.shortcut]
    return keys


def swatch(color: str, hatched: bool = False) -> QIcon:
    """A small square of the class colour (hatched for background, as its lane shows it)."""
    pixmap = QPixmap(SWATCH, SWATCH)
    pixmap.fill(QColor(color))
    if hatched:
        painter = QPainter(pixmap)
        painter.setPen(QColor("#e0e0e0"))
        for x in range(-SWATCH, SWATCH, 4):
            painter.drawLine(x, SWATCH, x + SWATCH, 0)
        painter.end()
    return QIcon(pixmap)


class ClassPalette(QWidget):
    def __init__(self, state: ProjectState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._buttons: dict[int, QToolButton] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 2)
        self._layout.setSpacing(2)
        self._title = QLabel("Draw as:")
        self._title.setToolTip(
            "The class a new segment gets. Its key chooses it; with a segment you selected, "
            "the key relabels that segment."
        )
        self._layout.addWidget(self._title)
        self._layout.addStretch(1)
        state.classes_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        keys: dict[int, list[str]] = {}
        for key, cls in class_keys(self.state.classes):
            keys.setdefault(cls.id, []).append(key)
        ids = [c.id for c in self.state.classes]
        if ids != list(self._buttons):
            for button in self._buttons.values():
                self._group.removeButton(button)
                button.deleteLater()
            self._buttons = {}
            for cls in self.state.classes:
                button = QToolButton()
                button.setCheckable(True)
                button.setAutoRaise(True)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
                button.setIconSize(QSize(SWATCH, SWATCH))
                button.clicked.connect(lambda _checked=False, c=cls.id: self.state.set_current_class(c))
                self._group.addButton(button)
                self._layout.insertWidget(self._layout.count() - 1, button)
                self._buttons[cls.id] = button
        for cls in self.state.classes:
            button = self._buttons[cls.id]
            shown = "/".join(keys.get(cls.id, []))
            button.setText(f"{shown}  {cls.name}" if shown else cls.name)
            button.setIcon(swatch(cls.color, hatched=cls.name == BACKGROUND))
            button.setToolTip(f"Draw new segments as “{cls.name}”" + (f" (key {shown})" if shown else ""))
            current = cls.id == self.state.current_class_id
            button.setChecked(current)
            font = button.font()
            font.setBold(current)
            button.setFont(font)

    def button_for(self, name: str) -> QToolButton:
        cls = next(c for c in self.state.classes if c.name == name)
        return self._buttons[cls.id]

    def current_name(self) -> str | None:
        cls = (
            None
            if self.state.current_class_id is None
            else self.state.class_by_id(self.state.current_class_id)
        )
        return None if cls is None else cls.name
