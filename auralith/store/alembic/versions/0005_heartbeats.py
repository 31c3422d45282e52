"""worker heartbeats, the supervisor's heal log, and what it needs on each partition row

`auralith_workers` holds one heartbeat row per worker; `auralith_heals` one row per unit the supervisor sent
again or job it moved on. Partitions get the chord they were sent in (a unit
sent again joins it), when they were sent, and how often the supervisor sent them again and on which dead
workers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auralith_workers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pool", sa.String(16), nullable=False),
        sa.Column("queues", sa.JSON, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "auralith_heals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("auralith_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("index", sa.Integer, nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auralith_heals_job_id", "auralith_heals", ["job_id"])
    with op.batch_alter_table("auralith_partitions") as batch:
        batch.add_column(sa.Column("chord_id", sa.String(155), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("redeliveries", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("lost_on", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auralith_partitions") as batch:
        for name in ("lost_on", "redeliveries", "sent_at", "chord_id"):
            batch.drop_column(name)
    op.drop_index("ix_auralith_heals_job_id", "auralith_heals")
    op.drop_table("auralith_heals")
    op.drop_table("auralith_workers")
