"""chord counters (auralith.worker.chords)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auralith_chords",
        sa.Column("group_id", sa.String(length=155), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id"),
    )


def downgrade() -> None:
    op.drop_table("auralith_chords")
