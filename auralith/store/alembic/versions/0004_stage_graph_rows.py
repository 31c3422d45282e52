"""rows of the stage graph for jobs planned before it (finalize, near_dedup, train)

Jobs planned by earlier versions have no row for the stages the graph added: `finalize` (the manifest), and
`near_dedup` (the cluster join, which earlier versions committed on the `dedup` row), and `train` where the job
trains but had not reached training. Without them a job in flight across the upgrade would skip those stages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

jobs = sa.table(
    "auralith_jobs", sa.column("id", sa.String), sa.column("state", sa.String), sa.column("config", sa.JSON)
)
parts = sa.table(
    "auralith_partitions",
    sa.column("job_id", sa.String),
    sa.column("stage", sa.String),
    sa.column("index", sa.Integer),
    sa.column("state", sa.String),
    sa.column("input_ref", sa.JSON),
    sa.column("input_bytes", sa.BigInteger),
    sa.column("attempts", sa.Integer),
    sa.column("counts", sa.JSON),
)


def upgrade() -> None:
    conn = op.get_bind()
    stages: dict[str, dict[str, list[str]]] = {}
    dedup_counts: dict[str, dict] = {}
    for job_id, stage, state, counts in conn.execute(
        sa.select(parts.c.job_id, parts.c.stage, parts.c.state, parts.c.counts)
    ):
        stages.setdefault(job_id, {}).setdefault(stage, []).append(state)
        if stage == "dedup" and counts:
            dedup_counts[job_id] = counts
    new = []
    for job_id, state, config in conn.execute(sa.select(jobs.c.id, jobs.c.state, jobs.c.config)):
        have = stages.get(job_id, {})
        if "tokenize" not in have:
            continue  # a job that only trains, or never planned: nothing to add
        n = len(have.get("process", []))
        done = state == "succeeded"
        if "minhash" in have and "near_dedup" not in have:
            # Earlier versions committed the dedup row after the join: that row says whether it ran.
            joined = have.get("dedup") == ["committed"]
            # Its figures (clusters, cluster sizes) were on the dedup row: the report reads them here now.
            new.append(
                (
                    job_id,
                    "near_dedup",
                    {"partitions": n},
                    "committed" if joined else "pending",
                    dedup_counts.get(job_id) if joined else None,
                )
            )
        if "finalize" not in have:
            new.append((job_id, "finalize", {"partitions": n}, "committed" if done else "pending", None))
        output = ((config or {}).get("output") or {}).get("path")
        if (config or {}).get("training") and "train" not in have and output and not done:
            new.append((job_id, "train", {"manifest": output.rstrip("/") + "/manifest.json"}, "pending", None))
    if new:
        conn.execute(
            parts.insert(),
            [
                {
                    "job_id": j,
                    "stage": s,
                    "index": 0,
                    "state": st,
                    "input_ref": ref,
                    "input_bytes": 0,
                    "attempts": 0,
                    "counts": c,
                }
                for j, s, ref, st, c in new
            ],
        )


def downgrade() -> None:
    pass  # the rows are harmless to earlier versions, which never read these stages' rows
