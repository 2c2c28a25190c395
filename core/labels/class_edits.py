"""Label-class edits with their inverses, so the GUI's undo stack only has to store them.

Deleting a class also deletes (or moves) its segments; its undo re-creates the class with its
original id and position and paints those segments back, so earlier label edits that refer to
the class still undo correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.store import Store
from core.store.records import LabelClass, NewSegment


@dataclass(frozen=True)
class ClassChange:
    """A class edit that has been made, with how to undo and redo it."""

    text: str
    undo: Callable[[], object]
    redo: Callable[[], object]


def add_class(store: Store, name: str, color: str | None = None, shortcut: str | None = None) -> ClassChange:
    cls = store.classes.add(name, color, shortcut)
    return ClassChange(
        f"Add class {cls.name}", lambda: store.classes.remove(cls.id), lambda: store.classes.restore(cls)
    )


def rename_class(store: Store, class_id: int, name: str) -> ClassChange | None:
    return _change(store, class_id, "Rename class", lambda c: store.classes.rename(c.id, name))


def recolour_class(store: Store, class_id: int, color: str) -> ClassChange | None:
    return _change(store, class_id, "Recolour class", lambda c: store.classes.update(c.id, color=color))


def set_class_shortcut(store: Store, class_id: int, shortcut: str | None) -> ClassChange | None:
    return _change(store, class_id, "Set class key", lambda c: store.classes.update(c.id, shortcut=shortcut))


def delete_class(store: Store, class_id: int, reassign_to: int | None = None) -> ClassChange:
    with store.unit("delete the label class"):  # what it owned is read in the same transaction
        cls = store.classes.get(class_id)
        owned: dict[int, list[NewSegment]] = {}
        for video in store.videos.list():
            segs = [
                NewSegment(cls.id, s.start_frame, s.end_frame, s.source)
                for s in store.segments.list(video.id)
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
