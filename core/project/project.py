"""The open project: its store, the events it announces, and the one way to change it.

Every user action runs through ``Project.do``: the action's repository calls share one unit
of work, which commits all of them or none; only after the commit do the events say what
changed. Undo and redo of an action are units of their own through ``Project.undo`` and
``Project.redo``, so a failure there changes nothing either and the caller can keep its undo
history where it was.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from core.errors import ConflictError
from core.paths import sqlite_file
from core.project.events import ProjectEvents
from core.project.remote import RemoteChanges
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

ANNOTATOR_ENV = "C3D_LABELLER_ANNOTATOR"


def default_annotator() -> str:
    """``$C3D_LABELLER_ANNOTATOR``, else the login name: every edit is signed by someone."""
    name = os.environ.get(ANNOTATOR_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


@dataclass(frozen=True)
class Undoable:
    """A committed action, with how to take it back and do it again (each run as one unit)."""

    text: str
    undo: Callable[[], object]
    redo: Callable[[], object]


class Project:
    """A store plus its events; hand this (not the store) to whatever edits labels."""

    def __init__(self, store: Store, annotator: str | None = None) -> None:
        self.store = store
        self.events = ProjectEvents()
        self.annotator = (annotator or "").strip() or default_annotator()
        """Signs every label edit in the edit log (team mode)."""
        self._remote: RemoteChanges | None = None
        store.subscribe(self._on_commit)

    @property
    def url(self) -> str:
        return self.store.url

    def do(self, action: Callable[[], T], what: str = "save the change") -> T:
        """Run ``action`` as one unit of work: all its writes commit together, or none do."""
        with self._conflicts(), self.store.unit(what):
            return action()

    def undo(self, change: Undoable) -> None:
        with self._conflicts(), self.store.unit(f"undo “{change.text}”"):
            change.undo()

    def redo(self, change: Undoable) -> None:
        with self._conflicts(), self.store.unit(f"redo “{change.text}”"):
            change.redo()

    @contextmanager
    def _conflicts(self) -> Iterator[None]:
        """A conflict means the caller's view is stale: say so to the views, then to the caller."""
        try:
            yield
        except ConflictError as exc:
            if exc.video_id is not None:
                self.events.segments.emit(SegmentsChanged(exc.video_id, exc.start, exc.end))
            raise

    def listen_to_others(self, interval_s: float = 0.5) -> None:
        """Hear other apps' commits on this store (a background thread) as this project's events."""
        if self.store.engine.dialect.name == "sqlite" and sqlite_file(self.url) is None:
            return  # an in-memory store: no other process can see it
        if self._remote is None:
            self._remote = RemoteChanges(self, interval_s)
            self._remote.start()

    def stop_listening(self) -> None:
        if self._remote is not None:
            self._remote.stop()
            self._remote = None

    def close(self) -> None:
        self.stop_listening()
        self.store.unsubscribe(self._on_commit)
        self.store.close()

    def announce(self, changes: Sequence[Change]) -> None:
        """Emit events for changes committed elsewhere (another process), as if made here."""
        self._on_commit(changes)

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


def open_project(url: str, annotator: str | None = None) -> Project:
    """Open (creating or upgrading) the store at ``url`` as a project."""
    return Project(open_store(url), annotator)
