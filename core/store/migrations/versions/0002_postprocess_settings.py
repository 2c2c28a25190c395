"""Per-class post-processing settings in the project

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postprocess_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=100), nullable=False),
        sa.Column("smoothing", sa.Integer(), nullable=False),
        sa.Column("open_threshold", sa.Float(), nullable=False),
        sa.Column("close_threshold", sa.Float(), nullable=False),
        sa.Column("min_length", sa.Integer(), nullable=False),
        sa.Column("fill_gaps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postprocess_settings")),
        sa.UniqueConstraint("class_name", name=op.f("uq_postprocess_settings_class_name")),
    )


def downgrade() -> None:
    op.drop_table("postprocess_settings")
