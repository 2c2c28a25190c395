"""Writing a whole import in one transaction: new classes and every video's segments, or nothing.

Repository calls are one transaction each, so an import of many files through them could stop
half-way and leave some videos labelled and others not. This repository takes the finished plan
and applies it inside a single session, reusing the painting rules every other write follows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from core.errors import StoreError
from core.store import painting
from core.store.changes import ClassesChanged, SegmentsChanged
from core.store.classes import _check_name_free, _clean_name, _next_color, name_key
from core.store.orm import LabelClassRow, VideoRow
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
            for video_id, items in segments.items():
                row = session.get(VideoRow, video_id)
                if row is None:
                    raise StoreError(
                        f"There is no video with id {video_id}; it was removed during the import."
                    )
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
                    painting.write(session, video_id, class_id, seg.start_frame, seg.end_frame, seg.source)
                    self._changed(SegmentsChanged(video_id, seg.start_frame, seg.end_frame))
                    written += 1
            log.info(
                "Imported %d segments into %d videos (%d new classes)",
                written,
                len(segments),
                len(new_classes),
            )
        return written
