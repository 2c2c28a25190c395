"""Plain-Python events, napari style: ``project.events.segments.connect(callback)``.

No Qt here: the GUI adapts these to signals in one bridge, the CLI may simply not listen.
Callbacks run on the thread that committed the change; a listener that needs another thread
(the GUI) moves the call there itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from core.store.changes import (
    ClassesChanged,
    ModelsChanged,
    PredictionsChanged,
    SegmentsChanged,
    VideosChanged,
)

log = logging.getLogger(__name__)

E = TypeVar("E")


class EventEmitter(Generic[E]):
    """A list of callbacks taking one event; connecting the same callback twice is a no-op."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[E], object]] = []

    def connect(self, callback: Callable[[E], object]) -> Callable[[E], object]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[E], object]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, event: E) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # one broken view must not stop the others hearing of a commit
                log.exception("A listener of %s failed on %s", self.name, event)

    def __len__(self) -> int:
        return len(self._callbacks)


class ProjectEvents:
    """What a project announces after each committed unit of work."""

    def __init__(self) -> None:
        self.segments: EventEmitter[SegmentsChanged] = EventEmitter("segments")
        self.predictions: EventEmitter[PredictionsChanged] = EventEmitter("predictions")
        self.classes: EventEmitter[ClassesChanged] = EventEmitter("classes")
        self.models: EventEmitter[ModelsChanged] = EventEmitter("models")
        self.videos: EventEmitter[VideosChanged] = EventEmitter("videos")
