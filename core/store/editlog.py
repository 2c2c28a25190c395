"""The append-only edit log: who changed which frames of a video, when, from what to what.

Rows are only ever added (a restore is a new edit, logged like any other), so the log is the
history a team can audit and go back to even after the undo stacks are gone.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.errors import StoreError
from core.store.orm import EditLogRow
from core.store.records import NewSegment, SegmentSource
from core.store.unit import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogEntry:
    id: int
    video_id: int
    annotator: str
    at: datetime
    action: str
    start_frame: int
    end_frame: int
    before: tuple[NewSegment, ...]
    after: tuple[NewSegment, ...]


def _encode(segments: Sequence[NewSegment]) -> list[Any]:
    return [
        [s.class_id, s.start_frame, s.end_frame, s.source.value, list(s.modifiers), s.comment]
        for s in segments
    ]


def _decode(data: Sequence[Any]) -> tuple[NewSegment, ...]:
    """Entries logged before tracks hold four fields: no modifiers, no comment."""
    return tuple(
        NewSegment(
            int(item[0]),
            int(item[1]),
            int(item[2]),
            SegmentSource(item[3]),
            tuple(item[4]) if len(item) > 4 else (),
            item[5] if len(item) > 5 else None,
        )
        for item in data
    )


def _entry(row: EditLogRow) -> LogEntry:
    return LogEntry(
        row.id,
        row.video_id,
        row.annotator,
        row.at,
        row.action,
        row.start_frame,
        row.end_frame,
        _decode(row.before),
        _decode(row.after),
    )


class EditLogRepository(Repository):
    def append(
        self,
        video_id: int,
        annotator: str,
        action: str,
        start: int,
        end: int,
        before: Sequence[NewSegment],
        after: Sequence[NewSegment],
    ) -> int:
        """Log one edit (inside the edit's own unit, so both commit or neither does)."""
        with self._write("log the edit") as session:
            row = EditLogRow(
                video_id=video_id,
                annotator=annotator[:100],
                action=action[:100],
                start_frame=start,
                end_frame=end,
                before=_encode(before),
                after=_encode(after),
            )
            session.add(row)
            session.flush()
            return row.id

    def list(self, video_id: int) -> builtins.list[LogEntry]:
        """A video's edits, oldest first."""
        with self._read("read the edit log") as session:
            rows = session.scalars(
                select(EditLogRow).where(EditLogRow.video_id == video_id).order_by(EditLogRow.id)
            )
            return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> LogEntry:
        with self._read("read the edit log") as session:
            row = session.get(EditLogRow, entry_id)
            if row is None:
                raise StoreError(
                    f"There is no edit log entry {entry_id}; `log VIDEO` lists a video's entries."
                )
            return _entry(row)
