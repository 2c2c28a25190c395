"""Tracks: lanes of labels that overlap one another, each exclusive within itself.

A track owns its classes (its own background included), so a class id names its track and a
segment's track is its class's. Tracks made ``like`` another get a copy of its classes and join
its class set, which is how one ethogram serves two subjects.
"""

from __future__ import annotations

import builtins
import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store import pinned
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.orm import LabelClassRow, SegmentRow, TrackRow
from core.store.records import BACKGROUND, DEFAULT_TRACK, Track, TrackKind
from core.store.unit import KEEP, Keep, Repository

log = logging.getLogger(__name__)

BACKGROUND_COLOR = "#808080"


def track_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def to_record(row: TrackRow) -> Track:
    return Track(
        id=row.id,
        name=row.name,
        kind=TrackKind(row.kind),
        subject=row.subject,
        class_set=row.class_set,
        position=row.position,
    )


class TrackRepository(Repository):
    def list(self) -> builtins.list[Track]:
        with self._read("list the tracks") as session:
            rows = session.scalars(select(TrackRow).order_by(TrackRow.position, TrackRow.id))
            return [to_record(r) for r in rows]

    def get(self, track_id: int) -> Track:
        with self._read("read a track") as session:
            return to_record(row(session, track_id))

    def default(self) -> Track:
        """The first track: what every command means when it names none."""
        with self._read("read the tracks") as session:
            return to_record(default_row(session))

    def by_name(self, name: str) -> Track | None:
        with self._read("look up a track") as session:
            found = session.scalar(select(TrackRow).where(TrackRow.name_key == track_key(name)))
            return None if found is None else to_record(found)

    def resolve(self, name: str | None) -> Track:
        """The track a user named (the default one for None), or a sentence listing the others."""
        if name is None:
            return self.default()
        found = self.by_name(name)
        if found is None:
            names = ", ".join(t.name for t in self.list())
            raise StoreError(f"There is no track named '{name}'; the tracks are: {names}.")
        return found

    def add(
        self,
        name: str,
        kind: TrackKind = TrackKind.STATE,
        subject: str | None = None,
        like: int | None = None,
    ) -> Track:
        """A new track with its own background; ``like`` copies that track's classes and set."""
        clean = clean_name(name, "track")
        with self._write(f"add the track '{clean}'") as session:
            self._changed(ClassesChanged())
            _check_free(session, clean, None)
            position = (session.scalar(select(func.max(TrackRow.position))) or 0) + 1
            new = TrackRow(
                name=clean,
                name_key=track_key(clean),
                kind=kind,
                subject=clean_subject(subject),
                position=position,
            )
            session.add(new)
            session.flush()
            if like is None:
                ensure_background(session, new.id)
            else:
                model = row(session, like)
                if model.class_set is None:
                    model.class_set = model.name
                new.class_set = model.class_set
                for cls in session.scalars(select(LabelClassRow).where(LabelClassRow.track_id == like)):
                    session.add(
                        LabelClassRow(
                            track_id=new.id,
                            name=cls.name,
                            name_key=cls.name_key,
                            color=cls.color,
                            shortcut=cls.shortcut,
                            position=cls.position,
                            modifiers=list(cls.modifiers),
                        )
                    )
            session.flush()
            log.info("Added %s track %r (id %d)", kind.value, clean, new.id)
            return to_record(new)

    def restore(self, track: Track) -> Track:
        """Re-create a deleted track as it was (same id, no classes yet): what undo needs."""
        clean = clean_name(track.name, "track")
        with self._write(f"restore the track '{clean}'") as session:
            self._changed(ClassesChanged())
            if session.get(TrackRow, track.id) is not None:
                raise StoreError(f"The track '{clean}' cannot be restored: its id is in use.")
            _check_free(session, clean, None)
            restored = TrackRow(
                id=track.id,
                name=clean,
                name_key=track_key(clean),
                kind=track.kind,
                subject=clean_subject(track.subject),
                class_set=track.class_set,
                position=track.position,
            )
            session.add(restored)
            session.flush()
            return to_record(restored)

    def set_class_set(self, track_id: int, class_set: str | None) -> Track:
        with self._write("change a track's class set") as session:
            self._changed(ClassesChanged())
            found = row(session, track_id)
            found.class_set = class_set
            return to_record(found)

    def update(
        self,
        track_id: int,
        name: str | Keep = KEEP,
        subject: str | Keep | None = KEEP,
        position: int | Keep = KEEP,
    ) -> Track:
        with self._write("change a track") as session:
            self._changed(ClassesChanged())
            found = row(session, track_id)
            if not isinstance(name, Keep):
                clean = clean_name(name, "track")
                _check_free(session, clean, track_id)
                found.name, found.name_key = clean, track_key(clean)
            if not isinstance(subject, Keep):
                found.subject = clean_subject(subject)
            if not isinstance(position, Keep):
                found.position = position
            return to_record(found)

    def remove(self, track_id: int) -> None:
        """Delete a track with its classes and their segments; the last track stays."""
        with self._write("delete a track") as session:
            self._changed(ClassesChanged())
            found = row(session, track_id)
            if session.scalar(select(func.count(TrackRow.id))) == 1:
                raise StoreError(
                    f"The track '{found.name}' is the project's only track; it cannot be deleted."
                )
            class_ids = select(LabelClassRow.id).where(LabelClassRow.track_id == track_id)
            spans = select(
                SegmentRow.video_id, func.min(SegmentRow.start_frame), func.max(SegmentRow.end_frame)
            )
            for video_id, start, end in session.execute(
                spans.where(SegmentRow.class_id.in_(class_ids)).group_by(SegmentRow.video_id)
            ):
                self._changed(SegmentsChanged(video_id, start, end))
            session.execute(delete(SegmentRow).where(SegmentRow.class_id.in_(class_ids)))
            session.execute(delete(LabelClassRow).where(LabelClassRow.track_id == track_id))
            session.delete(found)
            log.info("Deleted track %r", found.name)


def row(session: Session, track_id: int) -> TrackRow:
    found = pinned.pin(session, session.get(TrackRow, track_id))
    if found is None:
        raise StoreError(f"There is no track with id {track_id}; it may have been deleted.")
    return found


def default_row(session: Session) -> TrackRow:
    known = pinned.default_track_id(session)
    if known is not None:
        cached = session.get(TrackRow, known)
        if cached is not None:
            return cached
    found = session.scalars(select(TrackRow).order_by(TrackRow.position, TrackRow.id)).first()
    if found is None:
        raise StoreError("The project has no track; reopen it to recreate the default one.")
    pinned.remember_default_track(session, found)
    return found


def ensure_defaults(session: Session) -> None:
    """Every project has at least one track, and every track its own background class."""
    if session.scalar(select(func.count(TrackRow.id))) == 0:
        log.info("Creating the default track")
        session.add(
            TrackRow(name=DEFAULT_TRACK, name_key=track_key(DEFAULT_TRACK), kind=TrackKind.STATE, position=0)
        )
        session.flush()
    for track_id in session.scalars(select(TrackRow.id)):
        ensure_background(session, track_id)


def ensure_background(session: Session, track_id: int) -> None:
    key = track_key(BACKGROUND)
    query = select(LabelClassRow.id).where(LabelClassRow.track_id == track_id, LabelClassRow.name_key == key)
    if session.scalar(query) is None:
        session.add(
            LabelClassRow(
                track_id=track_id,
                name=BACKGROUND,
                name_key=key,
                color=BACKGROUND_COLOR,
                position=0,
                modifiers=[],
            )
        )
        session.flush()


def clean_name(name: str, what: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise StoreError(f"A {what} needs a name.")
    if len(clean) > 100:
        raise StoreError(f"A {what} name can be at most 100 characters long.")
    return clean


def clean_subject(subject: str | None) -> str | None:
    if subject is None:
        return None
    clean = " ".join(subject.split())
    if len(clean) > 100:
        raise StoreError("A subject name can be at most 100 characters long.")
    return clean or None


def _check_free(session: Session, name: str, own_id: int | None) -> None:
    other = session.scalar(select(TrackRow).where(TrackRow.name_key == track_key(name)))
    if other is not None and other.id != own_id:
        raise StoreError(f"A track named '{other.name}' already exists; choose another name.")
