"""Per-class post-processing settings, kept in the project so every user of it sees the same
events from the same scores (and a restart does not reset the thresholds someone tuned)."""

from __future__ import annotations

import builtins
import logging

from sqlalchemy import select

from core.store.orm import PostprocessSettingRow
from core.store.records import PostprocessSetting
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
    )


class PostprocessRepository(Repository):
    def list(self) -> builtins.list[PostprocessSetting]:
        with self._read("read the post-processing settings") as session:
            rows = session.scalars(select(PostprocessSettingRow).order_by(PostprocessSettingRow.class_name))
            return [to_record(r) for r in rows]

    def save(self, setting: PostprocessSetting) -> None:
        """Insert or replace the class's settings."""
        with self._write(f"save the post-processing of “{setting.class_name}”") as session:
            row = session.scalars(
                select(PostprocessSettingRow).where(PostprocessSettingRow.class_name == setting.class_name)
            ).one_or_none()
            if row is None:
                row = PostprocessSettingRow(class_name=setting.class_name)
                session.add(row)
            row.smoothing = setting.smoothing
            row.open_threshold = setting.open_threshold
            row.close_threshold = setting.close_threshold
            row.min_length = setting.min_length
            row.fill_gaps = setting.fill_gaps
