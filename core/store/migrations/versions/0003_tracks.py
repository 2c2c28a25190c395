"""Tracks (state and point, with subjects and shared class sets), modifiers and comments

Every existing class moves into one state track named "behaviour", so a store made before
tracks keeps every class, key, colour and segment and behaves exactly as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tracks = op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "state", "point", name="track_kind", native_enum=False, length=16, create_constraint=False
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("class_set", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
        sa.UniqueConstraint("name_key", name=op.f("uq_tracks_name_key")),
    )
    op.bulk_insert(
        tracks,
        [{"id": 1, "name": "behaviour", "name_key": "behaviour", "kind": "state", "position": 0}],
    )
    if op.get_bind().dialect.name == "postgresql":  # an explicit id leaves the sequence behind
        op.execute("SELECT setval(pg_get_serial_sequence('tracks', 'id'), 1)")

    with op.batch_alter_table("label_classes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("track_id", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("modifiers", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("label_classes", schema=None) as batch_op:
        batch_op.alter_column("track_id", server_default=None)
        batch_op.alter_column("modifiers", server_default=None)
        batch_op.drop_constraint("uq_label_classes_name_key", type_="unique")
        batch_op.drop_constraint("uq_label_classes_shortcut", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_label_classes_track_id_name_key"), ["track_id", "name_key"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_label_classes_track_id_shortcut"), ["track_id", "shortcut"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_label_classes_track_id_tracks"), "tracks", ["track_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_label_classes_track_id"), ["track_id"], unique=False)

    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("modifiers", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.alter_column("modifiers", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("comment")
        batch_op.drop_column("modifiers")
    with op.batch_alter_table("label_classes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_classes_track_id"))
        batch_op.drop_constraint(batch_op.f("fk_label_classes_track_id_tracks"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_label_classes_track_id_shortcut"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_label_classes_track_id_name_key"), type_="unique")
        batch_op.create_unique_constraint("uq_label_classes_shortcut", ["shortcut"])
        batch_op.create_unique_constraint("uq_label_classes_name_key", ["name_key"])
        batch_op.drop_column("modifiers")
        batch_op.drop_column("track_id")
    op.drop_table("tracks")
