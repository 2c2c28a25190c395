"""Keys belong to the labelling session, whatever widget has focus.

A coder works with the keyboard for hours. In the main window only text entries claim keys
before the window's shortcuts do (Qt's ShortcutOverride: measured, lists, tables, buttons,
combo boxes and the plots claim none), and its only text entries are spin boxes. So a spin
box takes focus only when clicked, and Enter or Esc hands the keyboard back to the player.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QSpinBox

log = logging.getLogger(__name__)

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


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
