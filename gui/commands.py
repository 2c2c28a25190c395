"""Label edits as QUndoCommands: each wraps a ``core.editing.Edit`` range snapshot."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from core.editing import Edit
from core.errors import AppError
from core.store import Store

UNDO_LIMIT = 1000


class EditCommand(QUndoCommand):
    """An edit already applied to the store; redo re-applies it, undo restores the range."""

    def __init__(
        self,
        store: Store,
        edit: Edit,
        on_change: Callable[[int], None],
        on_error: Callable[[str], None],
    ) -> None:
        super().__init__(edit.text)
        self._store = store
        self.edit = edit
        self._on_change = on_change
        self._on_error = on_error
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:  # QUndoStack.push calls redo: the edit has already happened
            self._pushed = True
            return
        self._apply(self.edit.redo)

    def undo(self) -> None:
        self._apply(self.edit.undo)

    def _apply(self, step: Callable[[Store], None]) -> None:
        try:
            step(self._store)
        except AppError as exc:  # e.g. its class was deleted since: say so instead of failing silently
            self._on_error(f"Could not {self.edit.text.lower()} again: {exc}")
        self._on_change(self.edit.video_id)


class StoreCommand(QUndoCommand):
    """A non-range change (a label class) already made in the store, with how to undo and redo it."""

    def __init__(
        self,
        text: str,
        undo: Callable[[], object],
        redo: Callable[[], object],
        on_change: Callable[[], None],
        on_error: Callable[[str], None],
    ) -> None:
        super().__init__(text)
        self._undo, self._redo = undo, redo
        self._on_change = on_change
        self._on_error = on_error
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:  # QUndoStack.push calls redo: the change has already happened
            self._pushed = True
            return
        self._apply(self._redo, "redo")

    def undo(self) -> None:
        self._apply(self._undo, "undo")

    def _apply(self, step: Callable[[], object], verb: str) -> None:
        try:
            step()
        except AppError as exc:
            self._on_error(f"Could not {verb} “{self.text()}”: {exc}")
        self._on_change()
