"""Labelled frame ranges of a video, kept mutually exclusive per frame within each track.

A segment's track is its class's. Calls that name no track mean the default one, so a project
with one track reads and writes exactly as before tracks existed.

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
from core.store import painting, pinned
from core.store.changes import SegmentsChanged
from core.store.orm import SegmentRow, TrackRow, VideoRow
from core.store.records import NewSegment, Segment, SegmentSource, TrackKind
from core.store.tracks import default_row
from core.store.tracks import row as track_row
from core.store.unit import KEEP, Keep, Repository

log = logging.getLogger(__name__)

LOCK_BUCKET_FRAMES = 256
"""Granularity of the edit locks on PostgreSQL: edits this far apart never wait for each other."""


class SegmentRepository(Repository):
    def list(
        self,
        video_id: int,
        start: int | None = None,
        end: int | None = None,
        track_id: int | None = None,
        all_tracks: bool = False,
    ) -> builtins.list[Segment]:
        """One track's segments of a video by start frame (the default track's unless named, or
        every track's with ``all_tracks``); with a range, those sharing a frame with it."""
        with self._read("read the segments") as session:
            query = select(SegmentRow).where(SegmentRow.video_id == video_id)
            if not all_tracks:
                query = query.where(painting._in_track(_track(session, track_id).id))
            if end is not None:
                query = query.where(SegmentRow.start_frame < end)
            if start is not None:
                query = query.where(SegmentRow.end_frame > start)
            return _records(session, session.scalars(query.order_by(SegmentRow.start_frame, SegmentRow.id)))

    def add(self, video_id: int, segment: NewSegment) -> Segment:
        """Label a range in its class's track; the result may be larger if it joined an equal neighbour."""
        with self._write("save the segment") as session:
            limit = _video_limit(session, video_id)
            track = _validate(session, segment, limit)
            row = painting.write(session, video_id, track, segment)
            self._changed(SegmentsChanged(video_id, row.start_frame, row.end_frame))
            return _records(session, [row])[0]

    def paint(self, video_id: int, segments: Sequence[NewSegment]) -> builtins.list[Segment]:
        """Apply several labels in order (later ones win within a track) in one transaction."""
        if not segments:
            return []
        with self._write("save the segments") as session:
            limit = _video_limit(session, video_id)
            tracks = [_validate(session, segment, limit) for segment in segments]
            for track, segment in zip(tracks, segments, strict=True):
                painting.write(session, video_id, track, segment)
            start = min(s.start_frame for s in segments)
            end = max(s.end_frame for s in segments)
            self._changed(SegmentsChanged(video_id, start, end))
            rows: builtins.list[SegmentRow] = []
            for track_id in dict.fromkeys(t.id for t in tracks):
                rows.extend(painting.overlapping(session, video_id, start, end, track_id))
            return _records(session, sorted(rows, key=lambda r: (r.start_frame, r.id)))

    def replace_range(
        self, video_id: int, start: int, end: int, new: Sequence[NewSegment], track_id: int | None = None
    ) -> builtins.list[Segment]:
        """Make ``[start, end)`` of one track hold exactly ``new``: the primitive behind undo and redo.

        Segments sticking out of the range keep their outside part. Returns the track's segments
        that overlap the range afterwards.
        """
        with self._write("restore the segments") as session:
            limit = _video_limit(session, video_id)
            _validate_range(start, end, limit)
            track = _track(session, track_id)
            for segment in new:
                if _validate(session, segment, limit).id != track.id:
                    raise StoreError("A label of another track cannot be written into this track's range.")
                if segment.start_frame < start or segment.end_frame > end:
                    raise StoreError(
                        f"Frames {segment.start_frame}–{segment.end_frame} lie outside the range "
                        f"{start}–{end} being replaced."
                    )
            painting.clear_range(session, video_id, start, end, track.id)
            for segment in new:
                painting.write(session, video_id, track, segment)
            self._changed(SegmentsChanged(video_id, start, end))
            return _records(session, painting.overlapping(session, video_id, start, end, track.id))

    def get(self, segment_id: int) -> Segment:
        with self._read("read the segment") as session:
            row = session.get(SegmentRow, segment_id)
            if row is None:
                raise StoreError(
                    f"There is no segment with id {segment_id}; it may have been deleted already."
                )
            return _records(session, [row])[0]

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
        modifiers: Sequence[str] | Keep = KEEP,
        comment: str | Keep | None = KEEP,
    ) -> Segment:
        """Change a segment; its new range overwrites other labels of its track, as painting does."""
        with self._write("change the segment") as session:
            row = session.get(SegmentRow, segment_id)
            if row is None:
                raise StoreError(f"There is no segment with id {segment_id}; it may have been deleted.")
            changed = NewSegment(
                class_id=row.class_id if isinstance(class_id, Keep) else class_id,
                start_frame=row.start_frame if isinstance(start_frame, Keep) else start_frame,
                end_frame=row.end_frame if isinstance(end_frame, Keep) else end_frame,
                source=row.source if isinstance(source, Keep) else SegmentSource(source),
                modifiers=tuple(row.modifiers or ()) if isinstance(modifiers, Keep) else tuple(modifiers),
                comment=row.comment if isinstance(comment, Keep) else comment,
            )
            own = painting.track_of_class(session, row.class_id)
            track = _validate(session, changed, _video_limit(session, row.video_id))
            if own is not None and own.id != track.id:
                raise StoreError("A segment cannot move to a class of another track.")
            self._changed(SegmentsChanged(row.video_id, row.start_frame, row.end_frame))
            self._changed(SegmentsChanged(row.video_id, changed.start_frame, changed.end_frame))
            row = painting.write(session, row.video_id, track, changed, reuse=row)
            return _records(session, [row])[0]

    def fill_unlabelled(
        self, video_id: int, start: int, end: int, class_id: int, source: SegmentSource = SegmentSource.HUMAN
    ) -> builtins.list[Segment]:
        """Label only the frames of ``[start, end)`` that have no label yet in the class's track."""
        with self._write("fill the unlabelled frames") as session:
            limit = _video_limit(session, video_id)
            track = _validate(session, NewSegment(class_id, start, end, source), limit)
            existing = painting.overlapping(session, video_id, start, end, track.id)
            for gap_start, gap_end in painting.gaps(existing, start, end):
                painting.place(session, video_id, track, NewSegment(class_id, gap_start, gap_end, source))
            self._changed(SegmentsChanged(video_id, start, end))
            return _records(session, painting.overlapping(session, video_id, start, end, track.id))

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

    def labelled_frames(self, video_id: int, track_id: int | None = None) -> int:
        with self._read("count the labelled frames") as session:
            total = session.scalar(
                select(func.sum(SegmentRow.end_frame - SegmentRow.start_frame)).where(
                    SegmentRow.video_id == video_id, painting._in_track(_track(session, track_id).id)
                )
            )
            return int(total or 0)


def _track(session: Session, track_id: int | None) -> TrackRow:
    return default_row(session) if track_id is None else track_row(session, track_id)


def _records(session: Session, rows: Iterable[SegmentRow]) -> list[Segment]:
    rows = list(rows)
    found = pinned.classes(session, (r.class_id for r in rows))
    classes = {class_id: (row.name, row.track_id) for class_id, row in found.items()}
    return [
        Segment(
            id=r.id,
            video_id=r.video_id,
            class_id=r.class_id,
            class_name=classes[r.class_id][0],
            start_frame=r.start_frame,
            end_frame=r.end_frame,
            source=SegmentSource(r.source),
            created_at=r.created_at,
            updated_at=r.updated_at,
            track_id=classes[r.class_id][1],
            modifiers=tuple(r.modifiers or ()),
            comment=r.comment,
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


def _validate(session: Session, segment: NewSegment, limit: int | None) -> TrackRow:
    """Check a label before writing it; returns its class's track."""
    _validate_range(segment.start_frame, segment.end_frame, limit)
    cls = pinned.class_row(session, segment.class_id)
    if cls is None:
        raise StoreError(
            f"There is no label class with id {segment.class_id}; it may have been deleted. "
            "Pick another class."
        )
    track = track_row(session, cls.track_id)
    if track.kind == TrackKind.POINT and segment.end_frame - segment.start_frame != 1:
        raise StoreError(
            f"'{track.name}' is a point track: an event there covers one frame, FRAME to FRAME+1 "
            f"(got {segment.start_frame}–{segment.end_frame})."
        )
    allowed = set(cls.modifiers or ())
    unknown = [m for m in segment.modifiers if m not in allowed]
    if unknown:
        offered = ", ".join(cls.modifiers or ()) or "none"
        raise StoreError(
            f"The class '{cls.name}' has no modifier '{unknown[0]}' (its modifiers: {offered}); "
            "add it to the class first."
        )
    if segment.comment is not None and len(segment.comment) > 10_000:
        raise StoreError("A comment can be at most 10,000 characters long.")
    return track
