"""The one place core events become Qt signals, always delivered on the GUI thread.

Core emits after each commit on the committing thread (a worker's, for analysis or
training). A call from another thread is queued to this object's thread; a call from the
GUI thread is delivered at once, so an edit's views are up to date when the edit returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from core.project import EventEmitter, Project
from core.store.changes import (
    Change,
    ClassesChanged,
    ModelsChanged,
    PredictionsChanged,
    SegmentsChanged,
    VideosChanged,
)

log = logging.getLogger(__name__)


class EventBridge(QObject):
    segments_changed = Signal(int, int, int)  # video id, start, end (frames, half-open)
    predictions_changed = Signal(int)  # video id
    classes_changed = Signal()
    models_changed = Signal()
    videos_changed = Signal(object)  # video id, or None for several

    _queued = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._listener: Callable[[Change], None] | None = None
        self._queued.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def attach(self, project: Project) -> None:
        """Listen to ``project`` (and stop listening to the one before)."""
        if self._project is project:
            return
        self.detach()
        self._project = project

        def listener(change: Change) -> None:
            self._receive(project, change)

        self._listener = listener
        for emitter in _emitters(project):
            emitter.connect(listener)

    def detach(self) -> None:
        if self._project is None:
            return
        if self._listener is not None:
            for emitter in _emitters(self._project):
                emitter.disconnect(self._listener)
        self._project, self._listener = None, None

    def _receive(self, project: Project, change: Change) -> None:
        if QThread.currentThread() is self.thread():
            self._deliver((project, change))
        else:
            self._queued.emit((project, change))

    @Slot(object)
    def _deliver(self, item: tuple[Project, Change]) -> None:
        project, change = item
        if project is not self._project:
            return  # from a project the user has switched away from since
        if isinstance(change, SegmentsChanged):
            self.segments_changed.emit(change.video_id, change.start, change.end)
        elif isinstance(change, PredictionsChanged):
            self.predictions_changed.emit(change.video_id)
        elif isinstance(change, ClassesChanged):
            self.classes_changed.emit()
        elif isinstance(change, ModelsChanged):
            self.models_changed.emit()
        elif isinstance(change, VideosChanged):
            self.videos_changed.emit(change.video_id)


def _emitters(project: Project) -> tuple[EventEmitter[Any], ...]:
    e = project.events
    return (e.segments, e.predictions, e.classes, e.models, e.videos)
