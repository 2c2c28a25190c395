"""Undoable changes as QUndoCommands: label-range edits and class edits share one shape."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from core.errors import AppError
from core.labels.editing import Edit
from core.store import Store

UNDO_LIMIT = 1000


class StoreCommand(QUndoCommand):
    """A change already made in the store, with how to undo and redo it."""

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
        except AppError as exc:  # e.g. its class was deleted since: say so instead of failing silently
            self._on_error(f"Could not {verb} “{self.text()}”: {exc}")
        self._on_change()


def edit_command(
    store: Store, edit: Edit, on_change: Callable[[int], None], on_error: Callable[[str], None]
) -> StoreCommand:
    """A ``core.labels.editing.Edit`` range snapshot, already applied: redo re-applies, undo restores."""
    return StoreCommand(
        edit.text,
        lambda: edit.undo(store),
        lambda: edit.redo(store),
        lambda: on_change(edit.video_id),
        on_error,
    )
