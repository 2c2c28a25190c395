"""Post-processing settings per track: two tracks may each have a class of the same name

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Every existing setting belongs to the first track, the only one a model predicted before
models had a head per track.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRST_TRACK = "(SELECT id FROM tracks ORDER BY position, id LIMIT 1)"


def upgrade() -> None:
    with op.batch_alter_table("postprocess_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("track_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE postprocess_settings SET track_id = {_FIRST_TRACK}")
    with op.batch_alter_table("postprocess_settings", schema=None) as batch_op:
        batch_op.alter_column("track_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("uq_postprocess_settings_class_name", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_postprocess_settings_track_id_class_name"), ["track_id", "class_name"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_postprocess_settings_track_id_tracks"),
            "tracks",
            ["track_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute(f"DELETE FROM postprocess_settings WHERE track_id <> {_FIRST_TRACK}")
    with op.batch_alter_table("postprocess_settings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_postprocess_settings_track_id_tracks"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_postprocess_settings_track_id_class_name"), type_="unique")
        batch_op.create_unique_constraint("uq_postprocess_settings_class_name", ["class_name"])
        batch_op.drop_column("track_id")
