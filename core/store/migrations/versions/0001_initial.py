"""Initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 (timestamps are stored as naive UTC; the app adds the zone)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "feature_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_hash", sa.String(length=128), nullable=False),
        sa.Column("trunk_hash", sa.String(length=128), nullable=False),
        sa.Column("spec_hash", sa.String(length=128), nullable=False),
        sa.Column("stride", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_cache")),
        sa.UniqueConstraint(
            "video_hash",
            "trunk_hash",
            "spec_hash",
            "stride",
            "layer",
            name=op.f("uq_feature_cache_video_hash_trunk_hash_spec_hash_stride_layer"),
        ),
    )
    with op.batch_alter_table("feature_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feature_cache_trunk_hash"), ["trunk_hash"], unique=False)

    op.create_table(
        "label_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("shortcut", sa.String(length=16), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_classes")),
        sa.UniqueConstraint("name_key", name=op.f("uq_label_classes_name_key")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_label_classes_shortcut")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("checkpoint_path", sa.String(length=4096), nullable=False),
        sa.Column("class_names", sa.JSON(), nullable=False),
        sa.Column("input_spec", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "untrained", "training", "ready", "failed", name="model_state", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("trunk_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["model_versions.id"],
            name=op.f("fk_model_versions_parent_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
    )
    op.create_table(
        "videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("header_frame_count", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("timestamps", sa.LargeBinary(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
        sa.UniqueConstraint("path", name=op.f("uq_videos_path")),
    )
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_videos_content_hash"), ["content_hash"], unique=False)

    op.create_table(
        "prediction_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("stride", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "cancelled", "complete", "failed", name="run_status", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("windows_done", sa.Integer(), nullable=False),
        sa.Column("windows_total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_prediction_runs_model_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_prediction_runs_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_runs")),
        sa.UniqueConstraint(
            "video_id",
            "model_version_id",
            "stride",
            name=op.f("uq_prediction_runs_video_id_model_version_id_stride"),
        ),
    )
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prediction_runs_model_version_id"), ["model_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_prediction_runs_video_id"), ["video_id"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("human", "accepted", name="segment_source", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "start_frame >= 0 AND end_frame > start_frame", name=op.f("ck_segments_frame_range")
        ),
        sa.ForeignKeyConstraint(
            ["class_id"], ["label_classes.id"], name=op.f("fk_segments_class_id_label_classes")
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_segments_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segments_class_id"), ["class_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_segments_video_id"), ["video_id"], unique=False)

    op.create_table(
        "settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active_model_version_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_settings_single_row")),
        sa.ForeignKeyConstraint(
            ["active_model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_settings_active_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings")),
    )
    op.create_table(
        "window_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("probs", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["prediction_runs.id"],
            name=op.f("fk_window_predictions_run_id_prediction_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_predictions")),
        sa.UniqueConstraint("run_id", "start_frame", name=op.f("uq_window_predictions_run_id_start_frame")),
    )


def downgrade() -> None:

    op.drop_table("window_predictions")
    op.drop_table("settings")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segments_video_id"))
        batch_op.drop_index(batch_op.f("ix_segments_class_id"))

    op.drop_table("segments")
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_runs_video_id"))
        batch_op.drop_index(batch_op.f("ix_prediction_runs_model_version_id"))

    op.drop_table("prediction_runs")
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_videos_content_hash"))

    op.drop_table("videos")
    op.drop_table("model_versions")
    op.drop_table("label_classes")
    with op.batch_alter_table("feature_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feature_cache_trunk_hash"))

    op.drop_table("feature_cache")
