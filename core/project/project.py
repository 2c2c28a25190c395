"""The open project: its store, the events it announces, and the one way to change it.

Every user action runs through ``Project.do``: the action's repository calls share one unit
of work, which commits all of them or none; only after the commit do the events say what
changed. Undo and redo of an action are units of their own through ``Project.undo`` and
``Project.redo``, so a failure there changes nothing either and the caller can keep its undo
history where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from core.project.events import ProjectEvents
from core.store import Store, open_store
from core.store.changes import (
    Change,
    ClassesChanged,
    ModelsChanged,
    PredictionsChanged,
    SegmentsChanged,
    VideosChanged,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Undoable:
    """A committed action, with how to take it back and do it again (each run as one unit)."""

    text: str
    undo: Callable[[], object]
    redo: Callable[[], object]


class Project:
    """A store plus its events; hand this (not the store) to whatever edits labels."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events = ProjectEvents()
        store.subscribe(self._on_commit)

    @property
    def url(self) -> str:
        return self.store.url

    def do(self, action: Callable[[], T], what: str = "save the change") -> T:
        """Run ``action`` as one unit of work: all its writes commit together, or none do."""
        with self.store.unit(what):
            return action()

    def undo(self, change: Undoable) -> None:
        with self.store.unit(f"undo “{change.text}”"):
            change.undo()

    def redo(self, change: Undoable) -> None:
        with self.store.unit(f"redo “{change.text}”"):
            change.redo()

    def close(self) -> None:
        self.store.unsubscribe(self._on_commit)
        self.store.close()

    def _on_commit(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if isinstance(change, SegmentsChanged):
                self.events.segments.emit(change)
            elif isinstance(change, PredictionsChanged):
                self.events.predictions.emit(change)
            elif isinstance(change, ClassesChanged):
                self.events.classes.emit(change)
            elif isinstance(change, ModelsChanged):
                self.events.models.emit(change)
            elif isinstance(change, VideosChanged):
                self.events.videos.emit(change)


def open_project(url: str) -> Project:
    """Open (creating or upgrading) the store at ``url`` as a project."""
    return Project(open_store(url))
