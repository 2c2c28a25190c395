"""Writing a whole import in one transaction: new tracks, classes and all segments, or nothing.

Repository calls are one transaction each, so an import of many files through them could stop
half-way and leave some videos labelled and others not. This repository takes the finished plan
and applies it inside a single session. The transaction must also be short, because it holds
the store's only write lock: painting row by row through ``painting.write`` took 8–13 s for
3,000 segments, long enough to make another program's write fail. So each video's segments
are read once per track, painted in memory by the same rules (``_Painter``), and the
difference is written in three bulk statements.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.classes import _check_name_free, _clean_name, _next_color, clean_modifiers, name_key
from core.store.orm import LabelClassRow, SegmentRow, TrackRow, VideoRow, utc_now
from core.store.records import SegmentSource, TrackKind
from core.store.tracks import clean_name, clean_subject, default_row, ensure_background, track_key
from core.store.unit import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedSegment:
    """A segment named by track and class, since either may be created in the same transaction."""

    class_name: str
    start_frame: int
    end_frame: int
    source: SegmentSource = SegmentSource.HUMAN
    track: str | None = None  # None: the default track
    modifiers: tuple[str, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class ImportedTrack:
    name: str
    kind: TrackKind = TrackKind.STATE
    subject: str | None = None


@dataclass(frozen=True)
class ImportedClass:
    """A class an import needs in a track (new, or existing and gaining modifiers)."""

    track: str | None
    name: str
    modifiers: tuple[str, ...] = ()


class ImportRepository(Repository):
    def apply(
        self,
        new_classes: Sequence[str],
        segments: Mapping[int, Sequence[ImportedSegment]],
        new_tracks: Sequence[ImportedTrack] = (),
        classes: Sequence[ImportedClass] = (),
    ) -> int:
        """Create tracks and classes, then paint each video's segments in order; returns segments written.

        ``new_classes`` go to the default track; ``classes`` name their track and are created
        when missing, or gain the modifiers the imported labels carry.
        """
        written = 0
        with self._write("import the labels") as session:
            if new_classes or new_tracks or classes:
                self._changed(ClassesChanged())
            default = default_row(session)
            for made in new_tracks:
                _add_track(session, made)
            for name in new_classes:
                _ensure_class(session, default, name, ())
            for need in classes:
                _ensure_class(session, _track_named(session, need.track, default), need.name, need.modifiers)
            session.flush()
            tracks = {t.name_key: t for t in session.scalars(select(TrackRow))}
            ids = {
                (track_id, key): class_id
                for class_id, key, track_id in session.execute(
                    select(LabelClassRow.id, LabelClassRow.name_key, LabelClassRow.track_id)
                )
            }
            now = utc_now()
            for video_id, items in segments.items():
                row = session.get(VideoRow, video_id)
                if row is None:
                    raise StoreError(
                        f"There is no video with id {video_id}; it was removed during the import."
                    )
                painters: dict[int, _Painter] = {}
                for seg in items:
                    track = default if seg.track is None else tracks.get(track_key(seg.track))
                    if track is None:
                        raise StoreError(f"There is no track named '{seg.track}'; it was deleted.")
                    class_id = ids.get((track.id, name_key(seg.class_name)))
                    if class_id is None:
                        raise StoreError(f"There is no label class named '{seg.class_name}'; it was deleted.")
                    if seg.start_frame < 0 or seg.end_frame <= seg.start_frame:
                        raise StoreError(f"Frames {seg.start_frame}–{seg.end_frame} are not a valid range.")
                    if row.frame_count is not None and seg.end_frame > row.frame_count:
                        raise StoreError(
                            f"Frames {seg.start_frame}–{seg.end_frame} run past the end of {row.path}."
                        )
                    if track.kind == TrackKind.POINT and seg.end_frame - seg.start_frame != 1:
                        raise StoreError(f"A point event of '{track.name}' must cover one frame.")
                    painter = painters.get(track.id)
                    if painter is None:
                        painter = painters[track.id] = _Painter.load(session, video_id, track)
                    painter.paint(class_id, seg, now)
                    self._changed(SegmentsChanged(video_id, seg.start_frame, seg.end_frame))
                    written += 1
                for painter in painters.values():
                    painter.save(session, video_id)
            log.info(
                "Imported %d segments into %d videos (%d new tracks, %d new classes)",
                written,
                len(segments),
                len(new_tracks),
                len(new_classes),
            )
        return written


def _track_named(session: Session, name: str | None, default: TrackRow) -> TrackRow:
    if name is None:
        return default
    found = session.scalar(select(TrackRow).where(TrackRow.name_key == track_key(name)))
    if found is None:
        raise StoreError(f"There is no track named '{name}'; it was deleted.")
    return found


def _add_track(session: Session, track: ImportedTrack) -> None:
    clean = clean_name(track.name, "track")
    if session.scalar(select(TrackRow.id).where(TrackRow.name_key == track_key(clean))) is not None:
        raise StoreError(f"A track named '{clean}' already exists; it was added during the import.")
    position = (session.scalar(select(func.max(TrackRow.position))) or 0) + 1
    row = TrackRow(
        name=clean,
        name_key=track_key(clean),
        kind=track.kind,
        subject=clean_subject(track.subject),
        position=position,
    )
    session.add(row)
    session.flush()
    ensure_background(session, row.id)


def _ensure_class(session: Session, track: TrackRow, name: str, modifiers: Sequence[str]) -> None:
    clean = _clean_name(name)
    in_track = LabelClassRow.track_id == track.id
    found = session.scalar(select(LabelClassRow).where(in_track, LabelClassRow.name_key == name_key(clean)))
    if found is not None:
        wanted = clean_modifiers([*(found.modifiers or ()), *modifiers])
        if wanted != list(found.modifiers or ()):
            found.modifiers = wanted
        return
    _check_name_free(session, track.id, clean, None)
    used = set(session.scalars(select(LabelClassRow.color)))
    position = (session.scalar(select(func.max(LabelClassRow.position)).where(in_track)) or 0) + 1
    session.add(
        LabelClassRow(
            track_id=track.id,
            name=clean,
            name_key=name_key(clean),
            color=_next_color(used),
            position=position,
            modifiers=clean_modifiers(modifiers),
        )
    )
    session.flush()


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
    modifiers: tuple[str, ...] = ()
    comment: str | None = None

    def same_label(
        self, class_id: int, source: SegmentSource, modifiers: tuple[str, ...], comment: str | None
    ) -> bool:
        return (self.class_id, self.source, self.modifiers, self.comment) == (
            class_id,
            source,
            modifiers,
            comment,
        )


class _Painter:
    """One track of one video painted in memory with ``painting.write``'s rules.

    Within a track frames carry one label, so the spans never overlap and stay sorted by start (and end);
    each paint clears its range (trimming or splitting what sticks out) and joins equal
    neighbours, exactly as ``painting.clear_range`` and ``painting.place`` do row by row.
    """

    def __init__(
        self, spans: list[_Span], joins: bool = True, versions: dict[int, int] | None = None
    ) -> None:
        self.joins = joins  # a point track's events never join
        self.original = {s.id: s for s in spans}
        self.versions = versions or {}  # row versions as loaded: updates name them (team mode)
        self.spans = spans
        self.starts = [s.start for s in spans]

    @classmethod
    def load(cls, session: Session, video_id: int, track: TrackRow) -> _Painter:
        in_track = select(LabelClassRow.id).where(LabelClassRow.track_id == track.id)
        rows = session.execute(
            select(
                SegmentRow.id,
                SegmentRow.class_id,
                SegmentRow.source,
                SegmentRow.start_frame,
                SegmentRow.end_frame,
                SegmentRow.created_at,
                SegmentRow.updated_at,
                SegmentRow.modifiers,
                SegmentRow.comment,
                SegmentRow.version,
            )
            .where(SegmentRow.video_id == video_id, SegmentRow.class_id.in_(in_track))
            .order_by(SegmentRow.start_frame)
        ).all()
        spans = [_Span(*row[:7], tuple(row[7] or ()), row[8]) for row in rows]
        return cls(spans, joins=track.kind != TrackKind.POINT, versions={row[0]: row[9] for row in rows})

    def paint(self, class_id: int, seg: ImportedSegment, now: datetime) -> None:
        start, end, source = seg.start_frame, seg.end_frame, seg.source
        modifiers, comment = tuple(seg.modifiers), seg.comment
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
        join_left = self.joins and left is not None and left.same_label(class_id, source, modifiers, comment)
        join_right = (
            self.joins and right is not None and right.same_label(class_id, source, modifiers, comment)
        )
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
            modifiers=modifiers,
            comment=comment,
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
            {"id": s.id, "version": self.versions[s.id], **_columns(s)}
            for s in self.spans
            if s.id is not None and self.original[s.id] != s
        ]
        if changed:
            session.execute(update(SegmentRow), changed)
        new = [{"video_id": video_id, **_columns(s)} for s in self.spans if s.id is None]
        if new:
            session.execute(insert(SegmentRow), new)


def _columns(span: _Span) -> dict[str, Any]:
    """The segment row's own columns, shared by the bulk update and the bulk insert."""
    return {
        "class_id": span.class_id,
        "source": span.source,
        "start_frame": span.start,
        "end_frame": span.end,
        "created_at": span.created_at,
        "updated_at": span.updated_at,
        "modifiers": list(span.modifiers),
        "comment": span.comment,
    }
