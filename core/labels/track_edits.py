"""Track edits with their inverses, like ``class_edits``: the GUI's undo stack only stores them.

Deleting a track takes its classes and every label in it; undo re-creates the track and its
classes with their original ids, then paints the labels back, so earlier edits still undo.
"""

from __future__ import annotations

import logging

from core.labels.class_edits import ClassChange
from core.store import Store
from core.store.records import LabelClass, NewSegment, Track, TrackKind
from core.store.unit import KEEP, Keep

log = logging.getLogger(__name__)


def add_track(
    store: Store,
    name: str,
    kind: TrackKind = TrackKind.STATE,
    subject: str | None = None,
    like: int | None = None,
) -> ClassChange:
    with store.unit("add the track"):
        model = None if like is None else store.tracks.get(like)
        track = store.tracks.add(name, kind, subject, like)
    removed: list[_Removed] = []

    def undo() -> None:
        with store.unit("remove the track"):
            removed.append(_take(store, track.id))
            if model is not None and model.class_set is None:
                store.tracks.set_class_set(model.id, None)

    def redo() -> None:
        with store.unit("restore the track"):
            _put_back(store, removed.pop())
            if model is not None and model.class_set is None:
                store.tracks.set_class_set(model.id, store.tracks.get(track.id).class_set)

    return ClassChange(f"Add track {track.name}", undo, redo)


def remove_track(store: Store, track_id: int) -> ClassChange:
    with store.unit("delete the track"):
        gone = _take(store, track_id)
    return ClassChange(
        f"Delete track {gone.track.name}", lambda: _put_back(store, gone), lambda: _take(store, track_id)
    )


def change_track(
    store: Store, track_id: int, name: str | None = None, subject: str | Keep | None = KEEP
) -> ClassChange | None:
    old = store.tracks.get(track_id)
    new = store.tracks.update(track_id, name=KEEP if name is None else name, subject=subject)
    if new == old:
        return None
    return ClassChange(
        f"Change track {old.name}",
        lambda: store.tracks.update(track_id, name=old.name, subject=old.subject),
        lambda: store.tracks.update(track_id, name=new.name, subject=new.subject),
    )


def move_track(store: Store, track_id: int, delta: int) -> ClassChange | None:
    """Move a track ``delta`` places in the project's order (its lanes' order; the first track is
    the one commands use when they name none); None when it is already at that end."""
    with store.unit("move the track"):
        tracks = store.tracks.list()
        ids = [t.id for t in tracks]
        at = ids.index(store.tracks.get(track_id).id)
        to = max(0, min(len(ids) - 1, at + delta))
        if to == at:
            return None
        old = {t.id: t.position for t in tracks}
        ids.insert(to, ids.pop(at))
        new = {tid: position for position, tid in enumerate(ids)}
        _positions(store, new)
    name = tracks[at].name
    return ClassChange(
        f"Move track {name} {'up' if delta < 0 else 'down'}",
        lambda: _positions(store, old),
        lambda: _positions(store, new),
    )


def _positions(store: Store, positions: dict[int, int]) -> None:
    with store.unit("reorder the tracks"):
        for track_id, position in positions.items():
            if store.tracks.get(track_id).position != position:
                store.tracks.update(track_id, position=position)


class _Removed:
    """A deleted track with everything it held, ready to be put back exactly."""

    def __init__(self, track: Track, classes: list[LabelClass], labels: dict[int, list[NewSegment]]) -> None:
        self.track = track
        self.classes = classes
        self.labels = labels


def _take(store: Store, track_id: int) -> _Removed:
    with store.unit("delete the track"):
        track = store.tracks.get(track_id)
        classes = store.classes.list(track_id)
        labels: dict[int, list[NewSegment]] = {}
        for video in store.videos.list():
            segs = [
                NewSegment(s.class_id, s.start_frame, s.end_frame, s.source, s.modifiers, s.comment)
                for s in store.segments.list(video.id, track_id=track_id)
            ]
            if segs:
                labels[video.id] = segs
        store.tracks.remove(track_id)
    return _Removed(track, classes, labels)


def _put_back(store: Store, gone: _Removed) -> None:
    with store.unit("restore the track"):
        store.tracks.restore(gone.track)
        for cls in gone.classes:
            store.classes.restore(cls)
        for video_id, segs in gone.labels.items():
            store.segments.paint(video_id, segs)
