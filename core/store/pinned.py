"""Class and track rows read once per unit of work, not once per repository call.

One label edit asks for its class's row, its track's row and the default track several times
(the edit, the check of what the author saw, the write, the read-back): on PostgreSQL each is
a round trip, and round trips are what four annotators' edits queue on. The session's
identity map already answers ``session.get`` without SQL, but only while the row object is
alive; pinning keeps the rows a unit has read alive until the unit (its session) ends.
Nothing can go stale: a pinned row is the very object the session would hand out anyway, and
the cached default track is forgotten whenever the unit writes a track.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.util import identity_key

from core.store.orm import LabelClassRow, TrackRow

log = logging.getLogger(__name__)

PINNED = "c3d_pinned"
DEFAULT_TRACK = "c3d_default_track"

R = TypeVar("R")


def pin(session: Session, row: R) -> R:
    """Keep ``row`` alive (and so in the identity map) for the rest of this session."""
    if row is not None:
        session.info.setdefault(PINNED, {})[id(row)] = row
    return row


def classes(session: Session, ids: Iterable[int]) -> dict[int, LabelClassRow]:
    """The class rows of ``ids``, from the identity map where it has them, in one query otherwise."""
    found: dict[int, LabelClassRow] = {}
    missing: list[int] = []
    for class_id in set(ids):
        row = session.identity_map.get(identity_key(LabelClassRow, class_id))
        if isinstance(row, LabelClassRow):
            found[class_id] = row
        else:
            missing.append(class_id)
    if missing:  # a project has tens of classes: read them all with their tracks, once per unit
        query = select(LabelClassRow, TrackRow).join(TrackRow, LabelClassRow.track_id == TrackRow.id)
        for row, track in session.execute(query):
            pin(session, row)
            pin(session, track)
            if row.id in missing:
                found[row.id] = row
    return found


def class_row(session: Session, class_id: int) -> LabelClassRow | None:
    return classes(session, [class_id]).get(class_id)


def default_track_id(session: Session) -> int | None:
    value = session.info.get(DEFAULT_TRACK)
    return value if isinstance(value, int) else None


def remember_default_track(session: Session, track: TrackRow) -> None:
    session.info[DEFAULT_TRACK] = track.id
    pin(session, track)


@event.listens_for(Session, "before_flush")
def _tracks_flushed(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(o, TrackRow) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(DEFAULT_TRACK, None)


@event.listens_for(Session, "do_orm_execute")
def _tracks_written(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and _names_tracks(state):
        state.session.info.pop(DEFAULT_TRACK, None)


def _names_tracks(state: ORMExecuteState) -> bool:
    table = getattr(state.statement, "table", None)
    return getattr(table, "name", None) == TrackRow.__tablename__
