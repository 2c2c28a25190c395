"""The user's edits, each one unit of work that returns how to undo it (or None if nothing changed).

These compose ``core.labels`` rules over the store; running them through ``Project.do`` is
what makes "paint + trims + merge", "delete a class and its segments" or "fill unlabelled
from predictions" commit together or not at all. The GUI pushes the returned ``Undoable``
on its stack; the CLI may simply drop it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from core.analysis.postprocess import PredictedEvent
from core.labels import class_edits, editing
from core.labels.accept import accept_events
from core.labels.editing import Edit
from core.labels.keys import check_class_key
from core.project.project import Project, Undoable
from core.store.records import Segment

log = logging.getLogger(__name__)

NO_RESERVED: Mapping[str, str] = {}


def _edit(project: Project, make: Callable[[], Edit]) -> Undoable | None:
    store = project.store
    edit = project.do(make, "save the label edit")
    if not edit.changed:
        return None
    return Undoable(edit.text, lambda: edit.undo(store), lambda: edit.redo(store))


def _class(project: Project, make: Callable[[], class_edits.ClassChange | None]) -> Undoable | None:
    change = project.do(make, "change the label classes")
    return None if change is None else Undoable(change.text, change.undo, change.redo)


# --- labels ------------------------------------------------------------------------------------


def label_range(project: Project, video_id: int, start: int, end: int, class_id: int) -> Undoable | None:
    return _edit(project, lambda: editing.label_range(project.store, video_id, start, end, class_id))


def clear_range(project: Project, video_id: int, start: int, end: int) -> Undoable | None:
    return _edit(project, lambda: editing.clear_range(project.store, video_id, start, end))


def change_segment(project: Project, segment: Segment, new_start: int, new_end: int) -> Undoable | None:
    return _edit(project, lambda: editing.change_segment(project.store, segment, new_start, new_end))


def merge_with_next(
    project: Project, video_id: int, segments: Sequence[Segment], segment: Segment
) -> Undoable | None:
    return _edit(project, lambda: editing.merge_with_next(project.store, video_id, segments, segment))


def mark_reviewed(project: Project, video_id: int, start: int, end: int) -> Undoable | None:
    return _edit(project, lambda: editing.mark_reviewed(project.store, video_id, start, end))


def accept(
    project: Project,
    video_id: int,
    events: Sequence[PredictedEvent],
    class_names: Sequence[str],
    start: int,
    end: int,
    fill_unlabelled_only: bool = False,
) -> Undoable | None:
    """Accept predicted events in ``[start, end)`` (or only fill its unlabelled frames)."""
    store = project.store
    text = "Fill unlabelled from predictions" if fill_unlabelled_only else "Accept predictions"
    return _edit(
        project,
        lambda: editing.record_edit(
            store,
            text,
            video_id,
            start,
            end,
            lambda: accept_events(
                store,
                video_id,
                events,
                class_names,
                fill_unlabelled_only=fill_unlabelled_only,
                start=start,
                end=end,
            ),
        ),
    )


# --- classes -----------------------------------------------------------------------------------


def add_class(
    project: Project,
    name: str,
    color: str | None = None,
    shortcut: str | None = None,
    reserved: Mapping[str, str] = NO_RESERVED,
) -> Undoable | None:
    check_class_key(shortcut, reserved)
    return _class(project, lambda: class_edits.add_class(project.store, name, color, shortcut))


def rename_class(project: Project, class_id: int, name: str) -> Undoable | None:
    return _class(project, lambda: class_edits.rename_class(project.store, class_id, name))


def recolour_class(project: Project, class_id: int, color: str) -> Undoable | None:
    return _class(project, lambda: class_edits.recolour_class(project.store, class_id, color))


def set_class_shortcut(
    project: Project, class_id: int, shortcut: str | None, reserved: Mapping[str, str] = NO_RESERVED
) -> Undoable | None:
    """Give a class its own key; ``reserved`` maps the app's action keys to their names."""
    check_class_key(shortcut, reserved)
    return _class(project, lambda: class_edits.set_class_shortcut(project.store, class_id, shortcut))


def delete_class(project: Project, class_id: int, reassign_to: int | None = None) -> Undoable | None:
    return _class(project, lambda: class_edits.delete_class(project.store, class_id, reassign_to))
