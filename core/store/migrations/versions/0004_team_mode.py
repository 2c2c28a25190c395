"""Team mode: segment versions, the edit log, the change feed, the video work queue, codings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written against 0002; the tracks branch owns 0003, so at merge this is re-chained after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("videos") as batch:
        batch.add_column(
            sa.Column("work_state", sa.String(length=16), server_default="to_label", nullable=False)
        )
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "edit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_edit_log_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edit_log")),
    )
    op.create_index(op.f("ix_edit_log_video_id"), "edit_log", ["video_id"], unique=False)
    op.create_table(
        "change_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed")),
    )
    op.create_index(op.f("ix_change_feed_at"), "change_feed", ["at"], unique=False)
    op.create_table(
        "codings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("coder", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_codings_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codings")),
        sa.UniqueConstraint("video_id", "coder", name=op.f("uq_codings_video_id_coder")),
    )
    op.create_index(op.f("ix_codings_video_id"), "codings", ["video_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_codings_video_id"), table_name="codings")
    op.drop_table("codings")
    op.drop_index(op.f("ix_change_feed_at"), table_name="change_feed")
    op.drop_table("change_feed")
    op.drop_index(op.f("ix_edit_log_video_id"), table_name="edit_log")
    op.drop_table("edit_log")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
        batch.drop_column("work_state")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("version")
