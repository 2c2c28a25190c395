"""The database schema as typed ORM classes. Alembic migrations must match it exactly.

Only the repositories in ``core.store`` touch these classes; everything they hand out is a
plain record from ``records.py``, so no caller ever holds a live session or lazy attribute.
"""

from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.store.records import ModelState, RunStatus, SegmentSource, TrackKind

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints let batch migrations on SQLite find and alter them later."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC: SQLite keeps no zone, and naive times get misread."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Time stamps written to the store must carry a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Enums stored by value as plain strings, so adding a member needs no schema change."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TrackRow(Base):
    """One lane of labels: mutually exclusive within itself, free to overlap with other tracks."""

    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[TrackKind] = mapped_column(_enum(TrackKind, "track_kind"))
    subject: Mapped[str | None] = mapped_column(String(100))
    # Tracks naming the same class set share an ethogram (one per subject, say).
    class_set: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)


class LabelClassRow(Base):
    __tablename__ = "label_classes"
    __table_args__ = (UniqueConstraint("track_id", "name_key"), UniqueConstraint("track_id", "shortcut"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The case- and space-folded name: uniqueness must ignore case, portably across databases.
    name_key: Mapped[str] = mapped_column(String(100))
    color: Mapped[str] = mapped_column(String(7))
    shortcut: Mapped[str | None] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)  # the values a label may carry


class VideoRow(Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    content_hash: Mapped[str] = mapped_column(String(128), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    header_frame_count: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    timestamps: Mapped[bytes | None] = mapped_column(LargeBinary)  # float64 seconds per frame
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Team mode's work queue: on the video row itself, so a claim's row lock covers its test.
    work_state: Mapped[str] = mapped_column(String(16), default="to_label", server_default="to_label")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (CheckConstraint("start_frame >= 0 AND end_frame > start_frame", name="frame_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("label_classes.id"), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)  # inclusive
    end_frame: Mapped[int] = mapped_column(Integer)  # exclusive
    source: Mapped[SegmentSource] = mapped_column(_enum(SegmentSource, "segment_source"))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Optimistic locking: every UPDATE/DELETE names the version it read and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    checkpoint_path: Mapped[str] = mapped_column(String(4096))
    class_names: Mapped[list[str]] = mapped_column(JSON)
    input_spec: Mapped[str] = mapped_column(Text)  # InputSpec.to_json()
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    mode: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[ModelState] = mapped_column(_enum(ModelState, "model_state"))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    trunk_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SettingsRow(Base):
    """The single row of project-wide settings; ``id`` is always 1."""

    __tablename__ = "settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    active_model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )


class PostprocessSettingRow(Base):
    """How one class's scores become events, per project and track; keyed by class name, since
    a model's class indices differ from one model to the next."""

    __tablename__ = "postprocess_settings"
    __table_args__ = (UniqueConstraint("track_id", "class_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    class_name: Mapped[str] = mapped_column(String(100))
    smoothing: Mapped[int] = mapped_column(Integer)
    open_threshold: Mapped[float] = mapped_column(Float)
    close_threshold: Mapped[float] = mapped_column(Float)
    min_length: Mapped[int] = mapped_column(Integer)
    fill_gaps: Mapped[int] = mapped_column(Integer)


class PredictionRunRow(Base):
    __tablename__ = "prediction_runs"
    __table_args__ = (UniqueConstraint("video_id", "model_version_id", "stride"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    stride: Mapped[int] = mapped_column(Integer)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    windows_done: Mapped[int] = mapped_column(Integer, default=0)
    windows_total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class WindowPredictionRow(Base):
    __tablename__ = "window_predictions"
    __table_args__ = (UniqueConstraint("run_id", "start_frame"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("prediction_runs.id", ondelete="CASCADE"))
    start_frame: Mapped[int] = mapped_column(Integer)
    probs: Mapped[bytes] = mapped_column(LargeBinary)  # float32, one per class


class FeatureCacheRow(Base):
    __tablename__ = "feature_cache"
    __table_args__ = (UniqueConstraint("video_hash", "trunk_hash", "spec_hash", "stride", "layer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_hash: Mapped[str] = mapped_column(String(128))
    trunk_hash: Mapped[str] = mapped_column(String(128), index=True)
    spec_hash: Mapped[str] = mapped_column(String(128))
    stride: Mapped[int] = mapped_column(Integer)
    layer: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(4096))
    windows: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(default=False)


class EditLogRow(Base):
    """Append-only: who changed which frames of a video, when, and what they held before and after."""

    __tablename__ = "edit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    annotator: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    action: Mapped[str] = mapped_column(String(100))
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    before: Mapped[list[Any]] = mapped_column(JSON)  # [[class name, start, end, source], ...]
    after: Mapped[list[Any]] = mapped_column(JSON)


class ChangeFeedRow(Base):
    """What each committed unit of work changed, for the other apps open on the same store."""

    __tablename__ = "change_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    changes: Mapped[list[Any]] = mapped_column(JSON)


class CodingRow(Base):
    """One annotator's independent coding of a video, kept apart from the project's labels
    (which one of them becomes, when chosen as the reference)."""

    __tablename__ = "codings"
    __table_args__ = (UniqueConstraint("video_id", "coder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    coder: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    segments: Mapped[list[Any]] = mapped_column(JSON)  # [[class name, start, end], ...]
