"""Frame-exclusive segment writes inside an open session.

Each frame carries at most one label (the model is a softmax), and two touching segments
with the same class and source are stored as one. That canonical form makes a video's
segments a pure function of its per-frame labels, which is what lets undo restore a range
exactly with ``replace_range``.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.store.orm import SegmentRow, utc_now
from core.store.records import SegmentSource

log = logging.getLogger(__name__)


def overlapping(session: Session, video_id: int, start: int, end: int) -> list[SegmentRow]:
    """Rows sharing at least one frame with ``[start, end)``, by start frame."""
    query = (
        select(SegmentRow)
        .where(SegmentRow.video_id == video_id, SegmentRow.start_frame < end, SegmentRow.end_frame > start)
        .order_by(SegmentRow.start_frame)
    )
    return list(session.scalars(query))


def clear_range(
    session: Session, video_id: int, start: int, end: int, keep: SegmentRow | None = None
) -> None:
    """Unlabel ``[start, end)``: rows inside go, rows sticking out are trimmed or split."""
    now = utc_now()
    for row in overlapping(session, video_id, start, end):
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
    session: Session,
    video_id: int,
    class_id: int,
    start: int,
    end: int,
    source: SegmentSource,
    reuse: SegmentRow | None = None,
) -> SegmentRow:
    """Label ``[start, end)``, overwriting whatever was there; returns the row now covering it.

    ``reuse`` keeps an existing row's id (an edited segment stays the same segment), unless
    it merges into an equal neighbour.
    """
    clear_range(session, video_id, start, end, keep=reuse)
    return place(session, video_id, class_id, start, end, source, reuse)


def place(
    session: Session,
    video_id: int,
    class_id: int,
    start: int,
    end: int,
    source: SegmentSource,
    reuse: SegmentRow | None = None,
) -> SegmentRow:
    """Put a segment into an already empty range, joining equal neighbours on either side."""
    now = utc_now()
    left = _neighbour(session, video_id, class_id, source, SegmentRow.end_frame == start, reuse)
    right = _neighbour(session, video_id, class_id, source, SegmentRow.start_frame == end, reuse)
    row = reuse or left or right
    if row is None:
        row = SegmentRow(video_id=video_id, class_id=class_id, source=source, created_at=now)
        session.add(row)
    row.class_id, row.source, row.updated_at = class_id, source, now
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
    rows = session.scalars(
        select(SegmentRow).where(SegmentRow.video_id == video_id).order_by(SegmentRow.start_frame)
    ).all()
    previous: SegmentRow | None = None
    for row in rows:
        if (
            previous is not None
            and previous.end_frame == row.start_frame
            and previous.class_id == row.class_id
            and previous.source == row.source
        ):
            previous.end_frame = row.end_frame
            previous.created_at = min(previous.created_at, row.created_at)
            previous.updated_at = utc_now()
            session.delete(row)
            continue
        previous = row
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


def _neighbour(
    session: Session,
    video_id: int,
    class_id: int,
    source: SegmentSource,
    touching: ColumnElement[bool],
    reuse: SegmentRow | None,
) -> SegmentRow | None:
    query = select(SegmentRow).where(
        SegmentRow.video_id == video_id,
        SegmentRow.class_id == class_id,
        SegmentRow.source == source,
        touching,
    )
    if reuse is not None and reuse.id is not None:
        query = query.where(SegmentRow.id != reuse.id)
    return session.scalars(query).first()
