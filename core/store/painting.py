"""Frame-exclusive segment writes inside an open session, one track at a time.

Within a track each frame carries at most one label (the track's head is a softmax), and two
touching segments with the same class, source, modifiers and comment are stored as one;
tracks never touch one another's frames. Point tracks hold one-frame events that never join.
That canonical form makes a track's segments a pure function of its per-frame labels, which
is what lets undo restore a range exactly with ``replace_range``.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from core.store.orm import LabelClassRow, SegmentRow, TrackRow, utc_now
from core.store.records import NewSegment, TrackKind

log = logging.getLogger(__name__)


def track_of_class(session: Session, class_id: int) -> TrackRow | None:
    cls = session.get(LabelClassRow, class_id)
    return None if cls is None else session.get(TrackRow, cls.track_id)


def _in_track(track_id: int) -> ColumnElement[bool]:
    return SegmentRow.class_id.in_(select(LabelClassRow.id).where(LabelClassRow.track_id == track_id))


def overlapping(session: Session, video_id: int, start: int, end: int, track_id: int) -> list[SegmentRow]:
    """The track's rows sharing at least one frame with ``[start, end)``, by start frame."""
    query = (
        select(SegmentRow)
        .where(
            SegmentRow.video_id == video_id,
            SegmentRow.start_frame < end,
            SegmentRow.end_frame > start,
            _in_track(track_id),
        )
        .order_by(SegmentRow.start_frame, SegmentRow.id)
    )
    return list(session.scalars(query))


def clear_range(
    session: Session, video_id: int, start: int, end: int, track_id: int, keep: SegmentRow | None = None
) -> None:
    """Unlabel ``[start, end)`` in one track: rows inside go, rows sticking out are trimmed or split."""
    now = utc_now()
    for row in overlapping(session, video_id, start, end, track_id):
        if keep is not None and row.id == keep.id:
            continue
        if row.start_frame >= start and row.end_frame <= end:
            session.delete(row)
        elif row.start_frame < start and row.end_frame > end:
            session.add(
                SegmentRow(
                    video_id=video_id,
                    class_id=row.class_id,
                    start_frame=end,
                    end_frame=row.end_frame,
                    source=row.source,
                    modifiers=list(row.modifiers or ()),
                    comment=row.comment,
                    created_at=row.created_at,
                    updated_at=now,
                )
            )
            row.end_frame, row.updated_at = start, now
        elif row.start_frame < start:
            row.end_frame, row.updated_at = start, now
        else:
            row.start_frame, row.updated_at = end, now
    session.flush()


def write(
    session: Session, video_id: int, track: TrackRow, segment: NewSegment, reuse: SegmentRow | None = None
) -> SegmentRow:
    """Label ``segment``'s range in ``track``, overwriting what was there; returns the row now covering it.

    ``reuse`` keeps an existing row's id (an edited segment stays the same segment), unless
    it merges into an equal neighbour.
    """
    clear_range(session, video_id, segment.start_frame, segment.end_frame, track.id, keep=reuse)
    return place(session, video_id, track, segment, reuse)


def place(
    session: Session, video_id: int, track: TrackRow, segment: NewSegment, reuse: SegmentRow | None = None
) -> SegmentRow:
    """Put a segment into an already empty range, joining equal neighbours on either side."""
    now = utc_now()
    start, end = segment.start_frame, segment.end_frame
    joins = track.kind != TrackKind.POINT
    left, right = _neighbours(session, video_id, segment, reuse) if joins else (None, None)
    row = reuse or left or right
    if row is None:
        row = SegmentRow(video_id=video_id, class_id=segment.class_id, source=segment.source, created_at=now)
        session.add(row)
    row.class_id, row.source, row.updated_at = segment.class_id, segment.source, now
    row.modifiers, row.comment = list(segment.modifiers), segment.comment
    row.start_frame = left.start_frame if left is not None else start
    row.end_frame = right.end_frame if right is not None else end
    for other in (left, right):
        if other is not None and other is not row:
            row.created_at = min(row.created_at, other.created_at)
            session.delete(other)
    session.flush()
    return row


def normalize_video(session: Session, video_id: int) -> None:
    """Join touching rows that became equal (for instance after moving segments to a class)."""
    tracks = {t.id: t for t in session.scalars(select(TrackRow))}
    rows = session.execute(
        select(SegmentRow, LabelClassRow.track_id)
        .join(LabelClassRow, LabelClassRow.id == SegmentRow.class_id)
        .where(SegmentRow.video_id == video_id)
        .order_by(SegmentRow.start_frame)
    ).all()
    previous: dict[int, SegmentRow] = {}
    for row, track_id in rows:
        if tracks[track_id].kind == TrackKind.POINT:
            continue
        before = previous.get(track_id)
        if before is not None and before.end_frame == row.start_frame and _same_label(before, row):
            before.end_frame = row.end_frame
            before.created_at = min(before.created_at, row.created_at)
            before.updated_at = utc_now()
            session.delete(row)
            continue
        previous[track_id] = row
    session.flush()


def gaps(rows: list[SegmentRow], start: int, end: int) -> list[tuple[int, int]]:
    """The unlabelled sub-ranges of ``[start, end)`` given the rows overlapping it."""
    result: list[tuple[int, int]] = []
    cursor = start
    for row in sorted(rows, key=lambda r: r.start_frame):
        if row.start_frame > cursor:
            result.append((cursor, min(row.start_frame, end)))
        cursor = max(cursor, row.end_frame)
        if cursor >= end:
            break
    if cursor < end:
        result.append((cursor, end))
    return result


def _same_label(a: SegmentRow, b: SegmentRow) -> bool:
    return (
        a.class_id == b.class_id
        and a.source == b.source
        and list(a.modifiers or ()) == list(b.modifiers or ())
        and a.comment == b.comment
    )


def _neighbours(
    session: Session, video_id: int, segment: NewSegment, reuse: SegmentRow | None
) -> tuple[SegmentRow | None, SegmentRow | None]:
    """The equal labels touching ``segment`` on the left and on the right (one query for both)."""
    start, end = segment.start_frame, segment.end_frame
    query = select(SegmentRow).where(
        SegmentRow.video_id == video_id,
        SegmentRow.class_id == segment.class_id,
        SegmentRow.source == segment.source,
        or_(SegmentRow.end_frame == start, SegmentRow.start_frame == end),
    )
    if reuse is not None and reuse.id is not None:
        query = query.where(SegmentRow.id != reuse.id)
    left: SegmentRow | None = None
    right: SegmentRow | None = None
    for candidate in session.scalars(query.order_by(SegmentRow.id)):
        # JSON has no portable equality in SQL
        if list(candidate.modifiers or ()) != list(segment.modifiers) or candidate.comment != segment.comment:
            continue
        if candidate.end_frame == start and left is None:
            left = candidate
        elif candidate.start_frame == end and right is None:
            right = candidate
    return left, right
