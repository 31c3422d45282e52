"""training metrics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auralith_train_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("loss", sa.Float(), nullable=False),
        sa.Column("val_loss", sa.Float(), nullable=True),
        sa.Column("lr", sa.Float(), nullable=False),
        sa.Column("tokens_per_s", sa.Float(), nullable=False),
        sa.Column("tokens_seen", sa.BigInteger(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["auralith_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auralith_train_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_train_metrics_job_step", ["job_id", "step"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auralith_train_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_train_metrics_job_step")
    op.drop_table("auralith_train_metrics")
