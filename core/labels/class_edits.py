"""Label-class edits with their inverses, so the GUI's undo stack only has to store them.

Deleting a class also deletes (or moves) its segments; its undo re-creates the class with its
original id and position and paints those segments back, so earlier label edits that refer to
the class still undo correctly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import StoreError
from core.store import Store
from core.store.records import LabelClass, NewSegment


@dataclass(frozen=True)
class ClassChange:
    """A class edit that has been made, with how to undo and redo it."""

    text: str
    undo: Callable[[], object]
    redo: Callable[[], object]


def add_class(
    store: Store,
    name: str,
    color: str | None = None,
    shortcut: str | None = None,
    track_id: int | None = None,
    modifiers: Sequence[str] = (),
) -> ClassChange:
    """Add a class to a track, and to every track sharing its class set (one ethogram, several subjects)."""
    with store.unit("add the label class"):
        track = store.tracks.default() if track_id is None else store.tracks.get(track_id)
        targets = [
            t for t in store.tracks.list() if track.class_set is not None and t.class_set == track.class_set
        ]
        added = [store.classes.add(name, color, shortcut, t.id, modifiers) for t in (targets or [track])]

    def undo() -> None:
        for cls in added:
            store.classes.remove(cls.id)

    def redo() -> None:
        for cls in added:
            store.classes.restore(cls)

    return ClassChange(f"Add class {added[0].name}", undo, redo)


def rename_class(store: Store, class_id: int, name: str) -> ClassChange | None:
    return _change(store, class_id, "Rename class", lambda c: store.classes.rename(c.id, name))


def recolour_class(store: Store, class_id: int, color: str) -> ClassChange | None:
    return _change(store, class_id, "Recolour class", lambda c: store.classes.update(c.id, color=color))


def set_class_shortcut(store: Store, class_id: int, shortcut: str | None) -> ClassChange | None:
    return _change(store, class_id, "Set class key", lambda c: store.classes.update(c.id, shortcut=shortcut))


def set_class_modifiers(store: Store, class_id: int, modifiers: Sequence[str]) -> ClassChange | None:
    """Change the modifiers a class offers, in every track sharing its class set; a modifier
    still carried by a label cannot be taken away (the label would then hold a value its class
    no longer allows)."""
    with store.unit("change the modifiers"):
        cls = store.classes.get(class_id)
        track = store.tracks.get(cls.track_id)
        shared = [t.id for t in store.tracks.list() if track.class_set and t.class_set == track.class_set]
        targets = [c for c in store.classes.list_all() if c.track_id in shared and c.name == cls.name] or [
            cls
        ]
        old = {c.id: c.modifiers for c in targets}
        for target in targets:
            gone = set(target.modifiers) - {" ".join(m.split()) for m in modifiers}
            _refuse_in_use(store, target.id, target.track_id, gone)
            store.classes.update(target.id, modifiers=modifiers)
        new = {c.id: store.classes.get(c.id).modifiers for c in targets}
    if new == old:
        return None

    def put(values: dict[int, tuple[str, ...]]) -> None:
        with store.unit("change the modifiers"):
            for cid, mods in values.items():
                store.classes.update(cid, modifiers=mods)

    return ClassChange(f"Set modifiers of {cls.name}", lambda: put(old), lambda: put(new))


def _refuse_in_use(store: Store, class_id: int, track_id: int, gone: set[str]) -> None:
    if not gone:
        return
    for video in store.videos.list():
        for seg in store.segments.list(video.id, track_id=track_id):
            used = gone.intersection(seg.modifiers) if seg.class_id == class_id else set()
            if used:
                raise StoreError(
                    f"The modifier '{sorted(used)[0]}' is still carried by the label at frames "
                    f"{seg.start_frame}–{seg.end_frame} of {video.path}; take it off that label first."
                )


def delete_class(store: Store, class_id: int, reassign_to: int | None = None) -> ClassChange:
    with store.unit("delete the label class"):  # what it owned is read in the same transaction
        cls = store.classes.get(class_id)
        owned: dict[int, list[NewSegment]] = {}
        for video in store.videos.list():
            segs = [
                NewSegment(cls.id, s.start_frame, s.end_frame, s.source, s.modifiers, s.comment)
                for s in store.segments.list(video.id, track_id=cls.track_id)
                if s.class_id == cls.id
            ]
            if segs:
                owned[video.id] = segs
        store.classes.remove(class_id, reassign_to)

    def restore() -> None:
        with store.unit("restore the label class"):
            store.classes.restore(cls)
            for video_id, segs in owned.items():
                store.segments.paint(video_id, segs)

    return ClassChange(f"Delete class {cls.name}", restore, lambda: store.classes.remove(cls.id, reassign_to))


def _change(
    store: Store, class_id: int, text: str, change: Callable[[LabelClass], LabelClass]
) -> ClassChange | None:
    """Rename/recolour/re-key: undo writes the old name, colour and key back; None if nothing changed."""
    old = store.classes.get(class_id)
    new = change(old)
    if new == old:
        return None

    def put(c: LabelClass) -> None:
        if store.classes.get(c.id).name != c.name:
            store.classes.rename(c.id, c.name)
        store.classes.update(c.id, color=c.color, shortcut=c.shortcut)

    return ClassChange(f"{text} {old.name}", lambda: put(old), lambda: put(new))
