"""The team's work queue: each video is to label, labelled or reviewed, and claimed by one person.

Claiming is one statement that picks and marks the next unclaimed video: on PostgreSQL its
``FOR UPDATE SKIP LOCKED`` sub-select lets concurrent claimers pass each other's rows instead
of queueing on them; on SQLite the writer lock makes the ``UPDATE … RETURNING`` atomic. Either
way no video is handed to two people.
"""

from __future__ import annotations

import builtins
import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from core.errors import StoreError
from core.store.changes import VideosChanged
from core.store.orm import VideoRow, utc_now
from core.store.unit import Repository

log = logging.getLogger(__name__)


class WorkState(enum.StrEnum):
    TO_LABEL = "to_label"
    LABELLED = "labelled"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class Assignment:
    video_id: int
    path: str
    state: WorkState
    claimed_by: str | None
    claimed_at: datetime | None


class WorkRepository(Repository):
    def claim_next(self, annotator: str) -> Assignment | None:
        """Give ``annotator`` the next unclaimed video to label (their own unfinished one first)."""
        with self._write("claim the next video") as session:
            own = session.scalars(
                select(VideoRow)
                .where(VideoRow.claimed_by == annotator, VideoRow.work_state == WorkState.TO_LABEL.value)
                .order_by(VideoRow.id)
                .limit(1)
            ).first()
            if own is not None:
                return _assignment(own)
            pick = (
                select(VideoRow.id)
                .where(VideoRow.work_state == WorkState.TO_LABEL.value, VideoRow.claimed_by.is_(None))
                .order_by(VideoRow.id)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            claimed = session.scalars(
                update(VideoRow)
                .where(VideoRow.id == pick, VideoRow.claimed_by.is_(None))
                .values(claimed_by=annotator[:100], claimed_at=utc_now())
                .returning(VideoRow.id)
            ).first()
            if claimed is None:
                return None
            self._changed(VideosChanged(claimed))
            row = session.get(VideoRow, claimed, populate_existing=True)
            if row is None:
                return None
            return _assignment(row)

    def set_state(self, video_id: int, state: WorkState, annotator: str | None = None) -> Assignment:
        """Move a video along to-label → labelled → reviewed (or back); to-label releases nobody."""
        with self._write("change the video's work state") as session:
            row = session.get(VideoRow, video_id, with_for_update=session.get_bind().dialect.name != "sqlite")
            if row is None:
                raise StoreError(f"There is no video with id {video_id}; it may have been removed.")
            row.work_state = WorkState(state).value
            if annotator is not None and row.claimed_by is None:
                row.claimed_by, row.claimed_at = annotator[:100], utc_now()
            self._changed(VideosChanged(video_id))
            return _assignment(row)

    def release(self, video_id: int) -> None:
        """Hand a claimed video back to the queue."""
        with self._write("release the video") as session:
            row = session.get(VideoRow, video_id)
            if row is None:
                raise StoreError(f"There is no video with id {video_id}; it may have been removed.")
            row.claimed_by, row.claimed_at = None, None
            self._changed(VideosChanged(video_id))

    def get(self, video_id: int) -> Assignment:
        with self._read("read the video's work state") as session:
            row = session.get(VideoRow, video_id)
            if row is None:
                raise StoreError(f"There is no video with id {video_id}; it may have been removed.")
            return _assignment(row)

    def list(self) -> builtins.list[Assignment]:
        with self._read("read the work queue") as session:
            return [_assignment(r) for r in session.scalars(select(VideoRow).order_by(VideoRow.id))]


def _assignment(row: VideoRow) -> Assignment:
    return Assignment(row.id, row.path, WorkState(row.work_state), row.claimed_by, row.claimed_at)
