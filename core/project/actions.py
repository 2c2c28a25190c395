"""The user's edits, each one unit of work that returns how to undo it (or None if nothing changed).

These compose ``core.labels`` rules over the store; running them through ``Project.do`` is
what makes "paint + trims + merge", "delete a class and its segments" or "fill unlabelled
from predictions" commit together or not at all. The GUI pushes the returned ``Undoable``
on its stack; the CLI may simply drop it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from core.analysis.postprocess import PredictedEvent
from core.errors import ConflictError, StoreError
from core.labels import class_edits, editing, track_edits
from core.labels.accept import accept_events
from core.labels.audit import logged
from core.labels.editing import Edit
from core.labels.keys import check_class_key
from core.project.project import Project, Undoable
from core.store.records import NewSegment, Segment, TrackKind
from core.store.unit import KEEP, Keep

log = logging.getLogger(__name__)

NO_RESERVED: Mapping[str, str] = {}
T = TypeVar("T")


Seen = Sequence[Segment] | None
"""The segments the user was looking at when they edited (team mode): if the edited frames
hold anything else by now, the edit is a ``ConflictError`` instead of an overwrite."""


def _edit(project: Project, make: Callable[[], Edit], seen: Seen = None) -> Undoable | None:
    def run() -> Edit:
        with editing.seen(seen):
            edit = make()
        if edit.changed:
            _log(project, edit.text, edit)
        return edit

    edit = _once_more_on_a_race(project, lambda: project.do(run, "save the label edit"))
    if not edit.changed:
        return None
    return Undoable(
        edit.text, lambda: _step(project, edit, back=True), lambda: _step(project, edit, back=False)
    )


def _edits(project: Project, text: str, makes: Sequence[Callable[[], Edit]]) -> Undoable | None:
    """Several edits (one per track or per video) as one unit, one log entry each, one undo step."""

    def run() -> list[Edit]:
        done: list[Edit] = []
        for make in makes:
            edit = make()
            if edit.changed:
                _log(project, edit.text, edit)
                done.append(edit)
        return done

    edits = project.do(run, "save the label edit")
    if not edits:
        return None

    def undo() -> None:
        for edit in reversed(edits):
            _step(project, edit, back=True)

    def redo() -> None:
        for edit in edits:
            _step(project, edit, back=False)

    return Undoable(text, undo, redo)


def _once_more_on_a_race(project: Project, attempt: Callable[[], Edit]) -> Edit:
    """Two edits of different frames can still meet on one long segment's row at the same
    moment (its version catches it); the edit is then simply run again, once, and checked
    against what its author saw as before. Not inside a caller's unit: that one has failed."""
    try:
        return attempt()
    except ConflictError as exc:
        if not exc.retryable or project.store.units.current() is not None:
            raise
        log.info("Edit met another on the same row; running it again")
        return attempt()


def _log(project: Project, text: str, edit: Edit) -> None:
    project.store.edit_log.append(
        edit.video_id, project.annotator, text, edit.start, edit.end, edit.before, edit.after
    )


def _step(project: Project, edit: Edit, back: bool) -> None:
    """Undo (or redo) ``edit`` only if its range still holds what the edit left (or found):
    if someone else changed those frames since, taking it back would silently undo them too."""
    store = project.store
    expected, wanted = (edit.after, edit.before) if back else (edit.before, edit.after)
    store.segments.lock_range(edit.video_id, edit.start, edit.end)
    listed = store.segments.list(edit.video_id, edit.start, edit.end, track_id=edit.track_id)
    now = editing.snapshot(listed, edit.start, edit.end)
    if now != expected:
        verb = "undo" if back else "redo"
        raise ConflictError(
            f"Cannot {verb} “{edit.text}”: frames {edit.start}–{edit.end} were changed since "
            "(by someone else, or an edit no longer on your undo stack). Nothing was changed; "
            "the view shows the labels as they are now.",
            edit.video_id,
            edit.start,
            edit.end,
        )
    store.segments.replace_range(edit.video_id, edit.start, edit.end, wanted, edit.track_id)
    _log(
        project,
        f"{'Undo' if back else 'Redo'} {edit.text}"[:100],
        editing.Edit(edit.text, edit.video_id, edit.start, edit.end, now, wanted, edit.track_id),
    )


def _class(
    project: Project, make: Callable[[], class_edits.ClassChange | None], logged_as: str | None = None
) -> Undoable | None:
    """A class or track change. One that may change labels too (a deleted class's segments)
    names its ``logged_as``: it, its undo and its redo log what they did to each video."""
    if logged_as is None:
        change = project.do(make, "change the label classes")
        return None if change is None else Undoable(change.text, change.undo, change.redo)

    def signed(text: str, run: Callable[[], T]) -> T:
        with logged(project.store, project.annotator, text):
            return run()

    change = project.do(lambda: signed(logged_as, make), "change the label classes")
    if change is None:
        return None
    text = change.text
    return Undoable(
        text,
        lambda: signed(f"Undo {text}"[:100], change.undo),
        lambda: signed(f"Redo {text}"[:100], change.redo),
    )


# --- labels ------------------------------------------------------------------------------------


def label_range(
    project: Project,
    video_id: int,
    start: int,
    end: int,
    class_id: int,
    modifiers: Sequence[str] = (),
    comment: str | None = None,
    seen: Seen = None,
) -> Undoable | None:
    """Label frames in the class's track; other tracks keep their labels there."""
    return _edit(
        project,
        lambda: editing.label_range(project.store, video_id, start, end, class_id, modifiers, comment),
        seen,
    )


def clear_range(
    project: Project, video_id: int, start: int, end: int, track_id: int | None = None, seen: Seen = None
) -> Undoable | None:
    return _edit(project, lambda: editing.clear_range(project.store, video_id, start, end, track_id), seen)


def change_segment(
    project: Project, segment: Segment, new_start: int, new_end: int, seen: Seen = None
) -> Undoable | None:
    return _edit(project, lambda: editing.change_segment(project.store, segment, new_start, new_end), seen)


def set_notes(
    project: Project,
    segment: Segment,
    modifiers: Sequence[str],
    comment: str | None,
    seen: Seen = None,
) -> Undoable | None:
    """A label's modifiers and comment, one undoable edit."""
    return _edit(project, lambda: editing.set_notes(project.store, segment, modifiers, comment), seen)


def merge_with_next(
    project: Project, video_id: int, segments: Sequence[Segment], segment: Segment, seen: Seen = None
) -> Undoable | None:
    return _edit(project, lambda: editing.merge_with_next(project.store, video_id, segments, segment), seen)


def mark_reviewed(
    project: Project, video_id: int, start: int, end: int, track_id: int | None = None, seen: Seen = None
) -> Undoable | None:
    return _edit(project, lambda: editing.mark_reviewed(project.store, video_id, start, end, track_id), seen)


def restore_logged(project: Project, entry_id: int) -> Undoable | None:
    """Put back what the frames of edit-log entry ``entry_id`` held before that edit (a new,
    logged, undoable edit: the log itself never changes)."""
    store = project.store
    entry = store.edit_log.get(entry_id)
    classes = {c.id: c.track_id for c in store.classes.list_all()}
    if any(s.class_id not in classes for s in entry.before):
        raise StoreError(
            f"Entry {entry_id} used a label class that has since been deleted; add it again, then restore."
        )
    tracks = {classes[s.class_id] for s in (*entry.before, *entry.after) if s.class_id in classes}
    track_id = tracks.pop() if len(tracks) == 1 else None  # an edit changes one track
    return _edit(
        project,
        lambda: editing.record_edit(
            store,
            f"Restore edit {entry_id}",
            entry.video_id,
            entry.start_frame,
            entry.end_frame,
            lambda: store.segments.replace_range(
                entry.video_id, entry.start_frame, entry.end_frame, entry.before, track_id
            ),
            track_id,
        ),
    )


def accept(
    project: Project,
    video_id: int,
    events: Sequence[PredictedEvent],
    class_names: Sequence[str],
    start: int,
    end: int,
    fill_unlabelled_only: bool = False,
    seen: Seen = None,
    track_id: int | None = None,
) -> Undoable | None:
    """Accept predicted events in ``[start, end)`` (or only fill its unlabelled frames) into
    ``track_id`` (default: the first track)."""
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
                track_id=track_id,
            ),
            track_id,
        ),
        seen,
    )


# --- classes -----------------------------------------------------------------------------------


def add_class(
    project: Project,
    name: str,
    color: str | None = None,
    shortcut: str | None = None,
    reserved: Mapping[str, str] = NO_RESERVED,
    track_id: int | None = None,
    modifiers: Sequence[str] = (),
) -> Undoable | None:
    check_class_key(shortcut, {**reserved, **_class_keys(project, track_id, None)})
    return _class(
        project, lambda: class_edits.add_class(project.store, name, color, shortcut, track_id, modifiers)
    )


def _class_keys(project: Project, track_id: int | None, own_id: int | None) -> dict[str, str]:
    """The keys the track's other classes take, as ``check_class_key`` reads reserved keys: two
    classes of one track on keys Qt cannot tell apart ("w" and "W") would make both dead."""
    store = project.store
    track = store.tracks.default().id if track_id is None else track_id
    return {
        c.shortcut: f"the class '{c.name}'"
        for c in store.classes.list(track)
        if c.shortcut and c.id != own_id
    }


def rename_class(project: Project, class_id: int, name: str) -> Undoable | None:
    return _class(project, lambda: class_edits.rename_class(project.store, class_id, name))


def recolour_class(project: Project, class_id: int, color: str) -> Undoable | None:
    return _class(project, lambda: class_edits.recolour_class(project.store, class_id, color))


def set_class_shortcut(
    project: Project, class_id: int, shortcut: str | None, reserved: Mapping[str, str] = NO_RESERVED
) -> Undoable | None:
    """Give a class its own key; ``reserved`` maps the app's action keys to their names."""
    cls = project.store.classes.get(class_id)
    check_class_key(shortcut, {**reserved, **_class_keys(project, cls.track_id, class_id)})
    return _class(project, lambda: class_edits.set_class_shortcut(project.store, class_id, shortcut))


def set_class_modifiers(project: Project, class_id: int, modifiers: Sequence[str]) -> Undoable | None:
    """The modifiers a class offers (and every class of its name in the tracks sharing its set)."""
    return _class(project, lambda: class_edits.set_class_modifiers(project.store, class_id, modifiers))


def delete_class(project: Project, class_id: int, reassign_to: int | None = None) -> Undoable | None:
    return _class(
        project,
        lambda: class_edits.delete_class(project.store, class_id, reassign_to),
        f"Delete class {project.store.classes.get(class_id).name}",
    )


# --- tracks ------------------------------------------------------------------------------------


def add_track(
    project: Project,
    name: str,
    kind: TrackKind = TrackKind.STATE,
    subject: str | None = None,
    like: int | None = None,
) -> Undoable | None:
    """A new track (``like`` copies another track's classes into a shared class set)."""
    return _class(project, lambda: track_edits.add_track(project.store, name, kind, subject, like))


def remove_track(project: Project, track_id: int) -> Undoable | None:
    """Delete a track with its classes and labels; undo brings all of them back."""
    return _class(
        project,
        lambda: track_edits.remove_track(project.store, track_id),
        f"Delete track {project.store.tracks.get(track_id).name}",
    )


def change_track(
    project: Project, track_id: int, name: str | None = None, subject: str | Keep | None = KEEP
) -> Undoable | None:
    return _class(project, lambda: track_edits.change_track(project.store, track_id, name, subject))


def move_track(project: Project, track_id: int, delta: int) -> Undoable | None:
    """Move a track up (negative) or down in the project's order: one undoable step."""
    return _class(project, lambda: track_edits.move_track(project.store, track_id, delta))


# --- independent codings (team mode) -----------------------------------------------------------


def save_coding(project: Project, video_id: int, clear: bool = False) -> Undoable | None:
    """Keep the video's labels (every track's) as this annotator's coding; ``clear`` then
    unlabels the video (one unit: saved and cleared, or neither) so the next coder starts blank."""
    store = project.store
    video = store.videos.get(video_id)

    def run() -> Undoable | None:
        tracks = {t.id: t.name for t in store.tracks.list()}
        labels = store.segments.list(video_id, all_tracks=True)
        coding = [(s.class_name, s.start_frame, s.end_frame, tracks[s.track_id]) for s in labels]
        store.codings.save(video_id, project.annotator, coding)
        if not (clear and coding):
            return None
        end = max(video.best_frame_count, *(s.end_frame for s in labels))

        def unlabel(track_id: int) -> Callable[[], Edit]:
            return lambda: editing.clear_range(store, video_id, 0, end, track_id)

        tracks_used = sorted({s.track_id for s in labels})
        return _edits(project, "Clear the labels for the next coder", [unlabel(t) for t in tracks_used])

    return project.do(run, "save the coding")


def use_coding(project: Project, video_id: int, coder: str) -> Undoable | None:
    """Make ``coder``'s coding the video's labels in every track (the reference): one undoable
    action, logged per track."""
    store = project.store
    coding = store.codings.get(video_id, coder)
    tracks = store.tracks.list()
    unknown = sorted({t for *_, t in coding} - {t.name for t in tracks})
    if unknown:
        raise StoreError(
            f"The coding uses tracks this project no longer has ({', '.join(unknown)}); add them first."
        )
    by_name = {(c.track_id, c.name): c.id for c in store.classes.list_all()}
    track_ids = {t.name: t.id for t in tracks}
    missing = sorted({n for n, _, _, t in coding if (track_ids[t], n) not in by_name})
    if missing:
        raise StoreError(
            f"The coding uses classes this project no longer has ({', '.join(missing)}); add them first."
        )
    video = store.videos.get(video_id)
    end = max([video.best_frame_count, *(e for _, _, e, _ in coding)])
    text = f"Use {coder}'s coding"

    def make(track_id: int) -> Callable[[], Edit]:
        new = [NewSegment(by_name[(track_id, n)], a, b) for n, a, b, t in coding if track_ids[t] == track_id]

        def write() -> None:
            store.segments.replace_range(video_id, 0, end, new, track_id)

        return lambda: editing.record_edit(store, text, video_id, 0, end, write, track_id)

    return _edits(project, text, [make(t.id) for t in tracks])
