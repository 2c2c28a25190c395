"""Writing a whole import in one transaction: new tracks, classes and all segments, or nothing.

Repository calls are one transaction each, so an import of many files through them could stop
half-way and leave some videos labelled and others not. This repository takes the finished plan
and applies it inside a single session, reusing the painting rules every other write follows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store import painting
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.classes import _check_name_free, _clean_name, _next_color, clean_modifiers, name_key
from core.store.orm import LabelClassRow, TrackRow, VideoRow
from core.store.records import NewSegment, SegmentSource, TrackKind
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
            for video_id, items in segments.items():
                row = session.get(VideoRow, video_id)
                if row is None:
                    raise StoreError(
                        f"There is no video with id {video_id}; it was removed during the import."
                    )
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
                    label = NewSegment(
                        class_id, seg.start_frame, seg.end_frame, seg.source, seg.modifiers, seg.comment
                    )
                    painting.write(session, video_id, track, label)
                    self._changed(SegmentsChanged(video_id, seg.start_frame, seg.end_frame))
                    written += 1
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
    used = set(session.scalars(select(LabelClassRow.color).where(in_track)))
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
