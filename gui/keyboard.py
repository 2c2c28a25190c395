"""Keys belong to the labelling session, whatever widget has focus.

A coder works with the keyboard for hours; a list, a button or a combo box that happens to
hold focus must not eat Space, the arrows or a class key. Only a text field the user is
typing into keeps its keys, and Enter or Esc hands the keyboard back to the player.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTextEdit,
    QWidget,
)

log = logging.getLogger(__name__)

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def is_text_entry(widget: QWidget) -> bool:
    """A field the user types into (a spin box's editor counts as its spin box)."""
    if isinstance(widget, QLineEdit | QAbstractSpinBox | QTextEdit | QPlainTextEdit):
        return True
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    parent = widget.parentWidget()
    return isinstance(parent, QAbstractSpinBox)


class ShortcutsFirst(QObject):
    """Application event filter: inside ``window``, shortcuts win over the focused widget.

    Qt offers a key to the focused widget first (a ``ShortcutOverride`` event); lists, buttons
    and spin boxes claim arrows, Space or digits that way. Declining the claim for every
    widget but a text entry lets the window's actions fire; keys no action uses still reach
    the widget as usual. Parented to the window, so it goes when the window does.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(watched, QWidget):
            return False
        if watched.window() is not self._window or is_text_entry(watched):
            return False
        event.ignore()  # not claimed: the shortcut map goes ahead
        return True


class _GiveBack(QObject):
    """Enter commits a spin box's text and Esc restores its value; both hand focus back."""

    def __init__(self, box: QAbstractSpinBox, home: Callable[[], None]) -> None:
        super().__init__(box)
        self._box = box
        self._home = home

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        box = self._box
        if event.key() in _ENTER:
            box.interpretText()
        elif event.key() == Qt.Key.Key_Escape:
            if isinstance(box, QSpinBox | QDoubleSpinBox):
                box.lineEdit().setText(box.prefix() + box.textFromValue(box.value()) + box.suffix())
        else:
            return False
        self._home()
        return True


def edit_on_click(box: QAbstractSpinBox, home: Callable[[], None]) -> None:
    """A spin box that takes focus only when clicked, changes its value only when the user
    is done typing (so "0.26" is not read as 0, then 0.2, on the way) and gives the keyboard
    back on Enter or Esc."""
    box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    box.setKeyboardTracking(False)
    box.installEventFilter(_GiveBack(box, home))
