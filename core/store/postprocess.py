"""Per-class post-processing settings, kept in the project so every user of it sees the same
events from the same scores (and a restart does not reset the thresholds someone tuned)."""

from __future__ import annotations

import builtins
import logging

from sqlalchemy import select

from core.store.orm import PostprocessSettingRow
from core.store.records import PostprocessSetting
from core.store.tracks import default_row
from core.store.tracks import row as track_row
from core.store.unit import Repository

log = logging.getLogger(__name__)


def to_record(row: PostprocessSettingRow) -> PostprocessSetting:
    return PostprocessSetting(
        class_name=row.class_name,
        smoothing=row.smoothing,
        open_threshold=row.open_threshold,
        close_threshold=row.close_threshold,
        min_length=row.min_length,
        fill_gaps=row.fill_gaps,
        track_id=row.track_id,
    )


class PostprocessRepository(Repository):
    def list(self, track_id: int | None = None) -> builtins.list[PostprocessSetting]:
        """One track's settings (the first track's when none is named)."""
        with self._read("read the post-processing settings") as session:
            tid = default_row(session).id if track_id is None else track_row(session, track_id).id
            rows = session.scalars(
                select(PostprocessSettingRow)
                .where(PostprocessSettingRow.track_id == tid)
                .order_by(PostprocessSettingRow.class_name)
            )
            return [to_record(r) for r in rows]

    def save(self, setting: PostprocessSetting) -> None:
        """Insert or replace the settings of the class in its track (the first one if None)."""
        with self._write(f"save the post-processing of “{setting.class_name}”") as session:
            tid = (
                default_row(session).id
                if setting.track_id is None
                else track_row(session, setting.track_id).id
            )
            row = session.scalars(
                select(PostprocessSettingRow).where(
                    PostprocessSettingRow.track_id == tid,
                    PostprocessSettingRow.class_name == setting.class_name,
                )
            ).one_or_none()
            if row is None:
                row = PostprocessSettingRow(class_name=setting.class_name, track_id=tid)
                session.add(row)
            row.smoothing = setting.smoothing
            row.open_threshold = setting.open_threshold
            row.close_threshold = setting.close_threshold
            row.min_length = setting.min_length
            row.fill_gaps = setting.fill_gaps
