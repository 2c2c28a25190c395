"""Labelled frame ranges of a video, kept mutually exclusive per frame.

Writing a label over frames that already carry one replaces it (see ``painting``). Every
method that changes segments returns what the affected range holds afterwards, so the
caller can redraw without another query and can snapshot for undo.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store import painting
from core.store.changes import SegmentsChanged
from core.store.orm import LabelClassRow, SegmentRow, VideoRow
from core.store.records import NewSegment, Segment, SegmentSource
from core.store.unit import KEEP, Keep, Repository

log = logging.getLogger(__name__)

LOCK_BUCKET_FRAMES = 256
"""Granularity of the edit locks on PostgreSQL: edits this far apart never wait for each other."""


class SegmentRepository(Repository):
    def list(self, video_id: int, start: int | None = None, end: int | None = None) -> builtins.list[Segment]:
        """All segments of a video by start frame; with a range, those sharing a frame with it."""
        with self._read("read the segments") as session:
            query = select(SegmentRow).where(SegmentRow.video_id == video_id)
            if end is not None:
                query = query.where(SegmentRow.start_frame < end)
            if start is not None:
                query = query.where(SegmentRow.end_frame > start)
            return _records(session, session.scalars(query.order_by(SegmentRow.start_frame)))

    def add(self, video_id: int, segment: NewSegment) -> Segment:
        """Label a range; the result may be larger if it joined an equal neighbour."""
        with self._write("save the segment") as session:
            limit = _video_limit(session, video_id)
            _validate(session, segment, limit)
            row = painting.write(
                session, video_id, segment.class_id, segment.start_frame, segment.end_frame, segment.source
            )
            self._changed(SegmentsChanged(video_id, row.start_frame, row.end_frame))
            return _records(session, [row])[0]

    def paint(self, video_id: int, segments: Sequence[NewSegment]) -> builtins.list[Segment]:
        """Apply several labels in order (later ones win) in one transaction."""
        if not segments:
            return []
        with self._write("save the segments") as session:
            limit = _video_limit(session, video_id)
            for segment in segments:
                _validate(session, segment, limit)
            _write_all(session, video_id, segments)
            start = min(s.start_frame for s in segments)
            end = max(s.end_frame for s in segments)
            self._changed(SegmentsChanged(video_id, start, end))
            return _records(session, painting.overlapping(session, video_id, start, end))

    def replace_range(
        self, video_id: int, start: int, end: int, new: Sequence[NewSegment]
    ) -> builtins.list[Segment]:
        """Make ``[start, end)`` hold exactly ``new``: the primitive behind undo and redo.

        Segments sticking out of the range keep their outside part. Returns the segments that
        overlap the range afterwards.
        """
        with self._write("restore the segments") as session:
            limit = _video_limit(session, video_id)
            _validate_range(start, end, limit)
            for segment in new:
                _validate(session, segment, limit)
                if segment.start_frame < start or segment.end_frame > end:
                    raise StoreError(
                        f"Frames {segment.start_frame}–{segment.end_frame} lie outside the range "
                        f"{start}–{end} being replaced."
                    )
            painting.clear_range(session, video_id, start, end)
            _write_all(session, video_id, new)
            self._changed(SegmentsChanged(video_id, start, end))
            return _records(session, painting.overlapping(session, video_id, start, end))

    def remove(self, segment_id: int) -> None:
        with self._write("delete the segment") as session:
            row = session.get(SegmentRow, segment_id)
            if row is None:
                raise StoreError(
                    f"There is no segment with id {segment_id}; it may have been deleted already."
                )
            self._changed(SegmentsChanged(row.video_id, row.start_frame, row.end_frame))
            session.delete(row)

    def update(
        self,
        segment_id: int,
        class_id: int | Keep = KEEP,
        start_frame: int | Keep = KEEP,
        end_frame: int | Keep = KEEP,
        source: SegmentSource | Keep = KEEP,
    ) -> Segment:
        """Change a segment; its new range overwrites other labels there, as painting does."""
        with self._write("change the segment") as session:
            row = session.get(SegmentRow, segment_id)
            if row is None:
                raise StoreError(f"There is no segment with id {segment_id}; it may have been deleted.")
            changed = NewSegment(
                class_id=row.class_id if isinstance(class_id, Keep) else class_id,
                start_frame=row.start_frame if isinstance(start_frame, Keep) else start_frame,
                end_frame=row.end_frame if isinstance(end_frame, Keep) else end_frame,
                source=row.source if isinstance(source, Keep) else SegmentSource(source),
            )
            _validate(session, changed, _video_limit(session, row.video_id))
            self._changed(SegmentsChanged(row.video_id, row.start_frame, row.end_frame))
            self._changed(SegmentsChanged(row.video_id, changed.start_frame, changed.end_frame))
            row = painting.write(
                session,
                row.video_id,
                changed.class_id,
                changed.start_frame,
                changed.end_frame,
                changed.source,
                reuse=row,
            )
            return _records(session, [row])[0]

    def fill_unlabelled(
        self, video_id: int, start: int, end: int, class_id: int, source: SegmentSource = SegmentSource.HUMAN
    ) -> builtins.list[Segment]:
        """Label only the frames of ``[start, end)`` that have no label yet."""
        with self._write("fill the unlabelled frames") as session:
            limit = _video_limit(session, video_id)
            _validate(session, NewSegment(class_id, start, end, source), limit)
            existing = painting.overlapping(session, video_id, start, end)
            for gap_start, gap_end in painting.gaps(existing, start, end):
                painting.place(session, video_id, class_id, gap_start, gap_end, source)
            self._changed(SegmentsChanged(video_id, start, end))
            return _records(session, painting.overlapping(session, video_id, start, end))

    def lock_range(self, video_id: int, start: int, end: int) -> None:
        """Serialise edits of the frames ``[start, end)`` (and the neighbours they may join)
        until this unit ends, so checking what is there and writing it are one step.

        PostgreSQL: transaction-scoped advisory locks on the range's buckets of
        ``LOCK_BUCKET_FRAMES``, taken in order (no deadlock between two ranges), so edits of
        other ranges run in parallel; a row two such edits both change (a long segment) is
        still guarded by its version. SQLite's writers are serialised already.
        """
        with self._write("lock the frames for editing") as session:
            if session.get_bind().dialect.name != "postgresql":
                return
            lo, hi = max(0, start - 1) // LOCK_BUCKET_FRAMES, max(start, end) // LOCK_BUCKET_FRAMES
            session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(CAST(:video AS int), b) "
                    "FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS b ORDER BY b"
                ),
                {"video": video_id, "lo": lo, "hi": hi},
            )

    def labelled_frames(self, video_id: int) -> int:
        with self._read("count the labelled frames") as session:
            total = session.scalar(
                select(func.sum(SegmentRow.end_frame - SegmentRow.start_frame)).where(
                    SegmentRow.video_id == video_id
                )
            )
            return int(total or 0)


def _records(session: Session, rows: Iterable[SegmentRow]) -> list[Segment]:
    rows = list(rows)
    ids = {r.class_id for r in rows}
    query = select(LabelClassRow.id, LabelClassRow.name).where(LabelClassRow.id.in_(ids))
    names = {class_id: name for class_id, name in session.execute(query)}
    return [
        Segment(
            id=r.id,
            video_id=r.video_id,
            class_id=r.class_id,
            class_name=names[r.class_id],
            start_frame=r.start_frame,
            end_frame=r.end_frame,
            source=SegmentSource(r.source),
            created_at=r.created_at,
            updated_at=r.updated_at,
            version=r.version,
        )
        for r in rows
    ]


def _video_limit(session: Session, video_id: int) -> int | None:
    """The true frame count when the video is indexed; None when not yet known."""
    # Only the count: loading the row would read its per-frame time stamps (MBs) on every edit.
    found = session.execute(select(VideoRow.frame_count).where(VideoRow.id == video_id)).first()
    if found is None:
        raise StoreError(f"There is no video with id {video_id}; it may have been removed from the project.")
    return found[0]


def _validate_range(start: int, end: int, limit: int | None) -> None:
    if start < 0:
        raise StoreError(f"A segment cannot start before frame 0 (got {start}).")
    if end <= start:
        raise StoreError(f"A segment must end after it starts (got frames {start}–{end}).")
    if limit is not None and end > limit:
        raise StoreError(f"Frames {start}–{end} run past the end of the video, which has {limit} frames.")


def _validate(session: Session, segment: NewSegment, limit: int | None) -> None:
    _validate_range(segment.start_frame, segment.end_frame, limit)
    if session.get(LabelClassRow, segment.class_id) is None:
        raise StoreError(
            f"There is no label class with id {segment.class_id}; it may have been deleted. "
            "Pick another class."
        )


def _write_all(session: Session, video_id: int, segments: Sequence[NewSegment]) -> None:
    """Paint each segment in order: a later one overwrites an earlier one where they meet."""
    for segment in segments:
        painting.write(
            session, video_id, segment.class_id, segment.start_frame, segment.end_frame, segment.source
        )
