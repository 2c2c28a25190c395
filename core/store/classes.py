"""Label classes: names, colours and keyboard shortcuts, with background always first.

Names are unique regardless of case and surrounding spaces, because "Walk" and "walk " on
two timeline rows would be a mistake a user cannot see.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Sequence
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store import pinned
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.orm import LabelClassRow, SegmentRow
from core.store.painting import normalize_video
from core.store.records import BACKGROUND, LabelClass
from core.store.tracks import default_row
from core.store.tracks import row as track_row
from core.store.unit import KEEP, Keep, Repository

log = logging.getLogger(__name__)

PALETTE: Final = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
    "#dcbeff",
    "#9a6324",
    "#800000",
    "#aaffc3",
    "#808000",
    "#000075",
)
"""Distinct colours (Sasha Trubetskoy's list) handed out in order to new classes."""

_COLOR_RE = re.compile(r"^#[0-9a-f]{6}$")


def name_key(name: str) -> str:
    """What two names are compared by: case and surrounding/inner runs of spaces ignored."""
    return " ".join(name.split()).casefold()


def to_record(row: LabelClassRow) -> LabelClass:
    return LabelClass(
        id=row.id,
        name=row.name,
        color=row.color,
        shortcut=row.shortcut,
        position=row.position,
        track_id=row.track_id,
        modifiers=tuple(row.modifiers or ()),
    )


def _track_id(session: Session, track_id: int | None) -> int:
    """The named track, checked, or the default one: commands that name none act on it."""
    return default_row(session).id if track_id is None else track_row(session, track_id).id


class ClassRepository(Repository):
    def list(self, track_id: int | None = None) -> builtins.list[LabelClass]:
        """One track's classes (the default track's when none is named), background first."""
        with self._read("list the label classes") as session:
            tid = _track_id(session, track_id)
            rows = session.scalars(
                select(LabelClassRow)
                .where(LabelClassRow.track_id == tid)
                .order_by(LabelClassRow.position, LabelClassRow.id)
            )
            records = [to_record(r) for r in rows]
        records.sort(key=lambda c: c.name != BACKGROUND)  # stable: background first, rest by position
        return records

    def get(self, class_id: int) -> LabelClass:
        with self._read("read a label class") as session:
            return to_record(_row(session, class_id))

    def list_all(self) -> builtins.list[LabelClass]:
        """Every track's classes, by track then position."""
        with self._read("list the label classes") as session:
            rows = session.scalars(
                select(LabelClassRow).order_by(
                    LabelClassRow.track_id, LabelClassRow.position, LabelClassRow.id
                )
            )
            return [to_record(r) for r in rows]

    def by_name(self, name: str, track_id: int | None = None) -> LabelClass | None:
        with self._read("look up a label class") as session:
            tid = _track_id(session, track_id)
            row = session.scalar(
                select(LabelClassRow).where(
                    LabelClassRow.track_id == tid, LabelClassRow.name_key == name_key(name)
                )
            )
            return None if row is None else to_record(row)

    def add(
        self,
        name: str,
        color: str | None = None,
        shortcut: str | None = None,
        track_id: int | None = None,
        modifiers: Sequence[str] = (),
    ) -> LabelClass:
        clean = _clean_name(name)
        with self._write(f"add the label class '{clean}'") as session:
            self._changed(ClassesChanged())
            tid = _track_id(session, track_id)
            _check_name_free(session, tid, clean, None)
            used = set(session.scalars(select(LabelClassRow.color)))  # distinct across tracks too
            chosen = _clean_color(color) if color is not None else _next_color(used)
            key = _clean_shortcut(shortcut)
            _check_shortcut_free(session, tid, key, None)
            last = session.scalar(
                select(func.max(LabelClassRow.position)).where(LabelClassRow.track_id == tid)
            )
            row = LabelClassRow(
                track_id=tid,
                name=clean,
                name_key=name_key(clean),
                color=chosen,
                shortcut=key,
                position=(last or 0) + 1,
                modifiers=clean_modifiers(modifiers),
            )
            session.add(row)
            session.flush()
            log.info("Added label class %r (id %d)", clean, row.id)
            return to_record(row)

    def restore(self, cls: LabelClass) -> LabelClass:
        """Re-create a deleted class exactly as it was (same id and position): what undo needs."""
        clean = _clean_name(cls.name)
        with self._write(f"restore the label class '{clean}'") as session:
            self._changed(ClassesChanged())
            if session.get(LabelClassRow, cls.id) is not None:
                raise StoreError(f"The label class '{clean}' cannot be restored: its id is in use.")
            _check_name_free(session, cls.track_id, clean, None)
            key = _clean_shortcut(cls.shortcut)
            _check_shortcut_free(session, cls.track_id, key, None)
            row = LabelClassRow(
                id=cls.id,
                track_id=track_row(session, cls.track_id).id,
                modifiers=clean_modifiers(cls.modifiers),
                name=clean,
                name_key=name_key(clean),
                color=_clean_color(cls.color),
                shortcut=key,
                position=cls.position,
            )
            session.add(row)
            session.flush()
            log.info("Restored label class %r (id %d)", clean, row.id)
            return to_record(row)

    def rename(self, class_id: int, name: str) -> LabelClass:
        clean = _clean_name(name)
        with self._write(f"rename a label class to '{clean}'") as session:
            self._changed(ClassesChanged())
            row = _row(session, class_id)
            if row.name == BACKGROUND:
                raise StoreError("The background class cannot be renamed.")
            _check_name_free(session, row.track_id, clean, class_id)
            row.name, row.name_key = clean, name_key(clean)
            return to_record(row)

    def update(
        self,
        class_id: int,
        color: str | Keep = KEEP,
        shortcut: str | Keep | None = KEEP,
        modifiers: Sequence[str] | Keep = KEEP,
    ) -> LabelClass:
        """Change colour, shortcut and/or modifiers; ``shortcut=None`` removes the shortcut."""
        with self._write("change a label class") as session:
            self._changed(ClassesChanged())
            row = _row(session, class_id)
            if not isinstance(color, Keep):
                row.color = _clean_color(color)
            if not isinstance(shortcut, Keep):
                key = _clean_shortcut(shortcut)
                _check_shortcut_free(session, row.track_id, key, class_id)
                row.shortcut = key
            if not isinstance(modifiers, Keep):
                row.modifiers = clean_modifiers(modifiers)
            return to_record(row)

    def remove(self, class_id: int, reassign_to: int | None = None) -> None:
        """Delete a class; its segments go with it, or move to ``reassign_to``."""
        with self._write("delete a label class") as session:
            self._changed(ClassesChanged())
            row = _row(session, class_id)
            if row.name == BACKGROUND:
                raise StoreError("The background class cannot be deleted.")
            _note_segments_of(self, session, class_id)
            if reassign_to is None:
                session.execute(delete(SegmentRow).where(SegmentRow.class_id == class_id))
            else:
                if reassign_to == class_id:
                    raise StoreError("Choose a different class to move the segments to.")
                if _row(session, reassign_to).track_id != row.track_id:
                    raise StoreError("Segments can only move to a class of the same track.")
                videos = set(
                    session.scalars(select(SegmentRow.video_id).where(SegmentRow.class_id == class_id))
                )
                session.execute(  # a changed row gets a new version, so team edits notice
                    update(SegmentRow)
                    .where(SegmentRow.class_id == class_id)
                    .values(class_id=reassign_to, version=SegmentRow.version + 1)
                    .execution_options(synchronize_session="fetch")
                )
                for video_id in videos:
                    normalize_video(session, video_id)  # newly equal neighbours become one segment
            session.delete(row)
            log.info("Deleted label class %r (segments moved to %s)", row.name, reassign_to)


def _note_segments_of(repo: Repository, session: Session, class_id: int) -> None:
    """Each video's span of the class's segments changes when the class goes."""
    query = (
        select(SegmentRow.video_id, func.min(SegmentRow.start_frame), func.max(SegmentRow.end_frame))
        .where(SegmentRow.class_id == class_id)
        .group_by(SegmentRow.video_id)
    )
    for video_id, start, end in session.execute(query):
        repo._changed(SegmentsChanged(video_id, start, end))


def _row(session: Session, class_id: int) -> LabelClassRow:
    row = pinned.class_row(session, class_id)
    if row is None:
        raise StoreError(f"There is no label class with id {class_id}; it may have been deleted.")
    return row


def _clean_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise StoreError("A label class needs a name.")
    if len(clean) > 100:
        raise StoreError("A label class name can be at most 100 characters long.")
    return clean


def _check_name_free(session: Session, track_id: int, name: str, own_id: int | None) -> None:
    other = session.scalar(
        select(LabelClassRow).where(
            LabelClassRow.track_id == track_id, LabelClassRow.name_key == name_key(name)
        )
    )
    if other is not None and other.id != own_id:
        raise StoreError(f"A label class named '{other.name}' already exists; choose another name.")


def _clean_color(color: str) -> str:
    clean = color.strip().lower()
    if not _COLOR_RE.match(clean):
        raise StoreError(f"'{color}' is not a colour; use the form #rrggbb, for example #e6194b.")
    return clean


def _next_color(used: set[str]) -> str:
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[len(used) % len(PALETTE)]


def _clean_shortcut(shortcut: str | None) -> str | None:
    if shortcut is None:
        return None
    clean = shortcut.strip()
    if not clean:
        return None
    if len(clean) > 16:
        raise StoreError(f"'{clean}' is too long for a keyboard shortcut.")
    return clean


def _check_shortcut_free(session: Session, track_id: int, shortcut: str | None, own_id: int | None) -> None:
    if shortcut is None:
        return
    other = session.scalar(
        select(LabelClassRow).where(LabelClassRow.track_id == track_id, LabelClassRow.shortcut == shortcut)
    )
    if other is not None and other.id != own_id:
        raise StoreError(f"The shortcut '{shortcut}' is already used by '{other.name}'; choose another key.")


def clean_modifiers(modifiers: Sequence[str]) -> list[str]:
    """Distinct, trimmed, in the order given: a modifier is a word like "left" or "fast"."""
    out: list[str] = []
    for value in modifiers:
        clean = " ".join(value.split())
        if not clean:
            raise StoreError("A modifier needs a name.")
        if len(clean) > 100:
            raise StoreError("A modifier can be at most 100 characters long.")
        if "|" in clean:
            raise StoreError(
                f"The modifier '{clean}' contains '|', which every export uses between modifiers."
            )
        if clean not in out:
            out.append(clean)
    return out
