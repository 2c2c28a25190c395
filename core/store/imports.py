"""Writing a whole import in one transaction: new classes and every video's segments, or nothing.

Repository calls are one transaction each, so an import of many files through them could stop
half-way and leave some videos labelled and others not. This repository takes the finished plan
and applies it inside a single session. The transaction must also be short, because it holds
the store's only write lock: painting row by row through ``painting.write`` took 8–13 s for
3,000 segments, long enough to make another program's write fail. So each video's segments
are read once, painted in memory by the same rules (``_Painter``), and the difference is
written in three bulk statements.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.classes import _check_name_free, _clean_name, _next_color, name_key
from core.store.orm import LabelClassRow, SegmentRow, VideoRow, utc_now
from core.store.records import SegmentSource
from core.store.unit import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedSegment:
    """A segment named by class, since its class may be created in the same transaction."""

    class_name: str
    start_frame: int
    end_frame: int
    source: SegmentSource = SegmentSource.HUMAN


class ImportRepository(Repository):
    def apply(self, new_classes: Sequence[str], segments: Mapping[int, Sequence[ImportedSegment]]) -> int:
        """Create ``new_classes``, then paint each video's segments in order; returns segments written."""
        written = 0
        with self._write("import the labels") as session:
            used = set(session.scalars(select(LabelClassRow.color)))
            position = session.scalar(select(func.max(LabelClassRow.position))) or 0
            if new_classes:
                self._changed(ClassesChanged())
            for name in new_classes:
                clean = _clean_name(name)
                _check_name_free(session, clean, None)
                position += 1
                color = _next_color(used)
                used.add(color)
                session.add(
                    LabelClassRow(name=clean, name_key=name_key(clean), color=color, position=position)
                )
            session.flush()
            ids = {
                key: class_id
                for class_id, key in session.execute(select(LabelClassRow.id, LabelClassRow.name_key))
            }
            now = utc_now()
            for video_id, items in segments.items():
                row = session.get(VideoRow, video_id)
                if row is None:
                    raise StoreError(
                        f"There is no video with id {video_id}; it was removed during the import."
                    )
                painter = _Painter.load(session, video_id)
                for seg in items:
                    class_id = ids.get(name_key(seg.class_name))
                    if class_id is None:
                        raise StoreError(f"There is no label class named '{seg.class_name}'; it was deleted.")
                    if seg.start_frame < 0 or seg.end_frame <= seg.start_frame:
                        raise StoreError(f"Frames {seg.start_frame}–{seg.end_frame} are not a valid range.")
                    if row.frame_count is not None and seg.end_frame > row.frame_count:
                        raise StoreError(
                            f"Frames {seg.start_frame}–{seg.end_frame} run past the end of {row.path}."
                        )
                    painter.paint(class_id, seg.start_frame, seg.end_frame, seg.source, now)
                    self._changed(SegmentsChanged(video_id, seg.start_frame, seg.end_frame))
                    written += 1
                painter.save(session, video_id)
            log.info(
                "Imported %d segments into %d videos (%d new classes)",
                written,
                len(segments),
                len(new_classes),
            )
        return written


@dataclass(frozen=True)
class _Span:
    """A segment row while it is painted in memory; ``id`` None until it is inserted."""

    id: int | None
    class_id: int
    source: SegmentSource
    start: int
    end: int
    created_at: datetime
    updated_at: datetime


class _Painter:
    """One video's segments painted in memory with ``painting.write``'s rules.

    Frames carry one label, so the spans never overlap and stay sorted by start (and end);
    each paint clears its range (trimming or splitting what sticks out) and joins equal
    neighbours, exactly as ``painting.clear_range`` and ``painting.place`` do row by row.
    """

    def __init__(self, spans: list[_Span], versions: dict[int, int] | None = None) -> None:
        self.original = {s.id: s for s in spans}
        self.versions = versions or {}  # row versions as loaded: updates name them (team mode)
        self.spans = spans
        self.starts = [s.start for s in spans]

    @classmethod
    def load(cls, session: Session, video_id: int) -> _Painter:
        rows = session.execute(
            select(
                SegmentRow.id,
                SegmentRow.class_id,
                SegmentRow.source,
                SegmentRow.start_frame,
                SegmentRow.end_frame,
                SegmentRow.created_at,
                SegmentRow.updated_at,
                SegmentRow.version,
            )
            .where(SegmentRow.video_id == video_id)
            .order_by(SegmentRow.start_frame)
        ).all()
        return cls([_Span(*row[:-1]) for row in rows], {row[0]: row[-1] for row in rows})

    def paint(self, class_id: int, start: int, end: int, source: SegmentSource, now: datetime) -> None:
        spans = self.spans
        lo = max(bisect_right(self.starts, start) - 1, 0)
        while lo < len(spans) and spans[lo].end <= start:
            lo += 1
        hi = lo
        left: _Span | None = None
        right: _Span | None = None
        while hi < len(spans) and spans[hi].start < end:  # clear_range: trim or split
            span = spans[hi]
            if span.start < start:
                left = replace(span, end=start, updated_at=now)
            if span.end > end:  # a split keeps the row for the left part; the right one is new
                right = replace(span, id=None if span.start < start else span.id, start=end, updated_at=now)
            hi += 1
        first, last = lo, hi
        if left is None and lo > 0 and spans[lo - 1].end == start:
            left, first = spans[lo - 1], lo - 1
        if right is None and hi < len(spans) and spans[hi].start == end:
            right, last = spans[hi], hi + 1
        join_left = left is not None and left.class_id == class_id and left.source == source
        join_right = right is not None and right.class_id == class_id and right.source == source
        base = left if join_left else right if join_right else None  # place(): left wins
        created = now if base is None else base.created_at
        if join_left and join_right and left is not None and right is not None:
            created = min(left.created_at, right.created_at)
        placed = _Span(
            id=None if base is None else base.id,
            class_id=class_id,
            source=source,
            start=left.start if join_left and left is not None else start,
            end=right.end if join_right and right is not None else end,
            created_at=created,
            updated_at=now,
        )
        middle = [
            *([left] if left is not None and not join_left else []),
            placed,
            *([right] if right is not None and not join_right else []),
        ]
        spans[first:last] = middle
        self.starts[first:last] = [s.start for s in middle]

    def save(self, session: Session, video_id: int) -> None:
        """Write the difference from what was loaded: deletes, then updates, then inserts."""
        final_ids = {s.id for s in self.spans if s.id is not None}
        gone = [i for i in self.original if i not in final_ids]
        for chunk in range(0, len(gone), 500):
            session.execute(delete(SegmentRow).where(SegmentRow.id.in_(gone[chunk : chunk + 500])))
        changed = [
            {
                "id": s.id,
                "class_id": s.class_id,
                "source": s.source,
                "start_frame": s.start,
                "end_frame": s.end,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
                "version": self.versions[s.id],
            }
            for s in self.spans
            if s.id is not None and self.original[s.id] != s
        ]
        if changed:
            session.execute(update(SegmentRow), changed)
        new = [
            {
                "video_id": video_id,
                "class_id": s.class_id,
                "source": s.source,
                "start_frame": s.start,
                "end_frame": s.end,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
            }
            for s in self.spans
            if s.id is None
        ]
        if new:
            session.execute(insert(SegmentRow), new)
