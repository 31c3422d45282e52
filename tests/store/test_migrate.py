"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from auralith.store import migrate
from auralith.store.db import get_engine
from auralith.store.models import Base


def test_migrations_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    with get_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate.current_revision(url) == migrate.head_revision()


def test_jobs_planned_before_the_stage_graph_get_its_new_rows(tmp_path):
    """0004: a job in flight across the upgrade gets rows for finalize, near_dedup and train."""
    from alembic import command

    from auralith.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    command.upgrade(migrate._config(url), "0003")
    store = Store(url)
    # Rows written as the 0003 schema has them (the models describe the newest one).
    jobs = sa.table(
        "auralith_jobs",
        *(sa.column(c) for c in ("id", "name", "config", "config_hash", "state", "priority", "created_at")),
    )
    parts = sa.table(
        "auralith_partitions",
        *(sa.column(c) for c in ("job_id", "stage", "index", "input_ref", "input_bytes", "state", "attempts")),
        sa.column("counts", sa.JSON),
    )
    training = {"output": {"path": "/out/a"}, "training": {"steps": 3}}
    plans = {
        "old-near": ("running", training, {"process": 2, "dedup": 1, "minhash": 3, "tokenize": 2}),
        "old-done": ("succeeded", {}, {"process": 1, "dedup": 1, "minhash": 1, "tokenize": 1}),
        "only-trains": ("running", training, {"train": 1}),
    }
    with get_engine(url).begin() as conn:
        for job_id, (state, config, stages) in plans.items():
            conn.execute(
                sa.insert(jobs).values(
                    id=job_id,
                    name=job_id,
                    config=json.dumps(config),
                    config_hash="h",
                    state=state,
                    priority="normal",
                    created_at="2026-01-01 00:00:00",
                )
            )
            for stage, n in stages.items():
                for i in range(n):
                    ref = {"manifest": "/m.json"} if stage == "train" else {}
                    done = job_id == "old-done" and stage == "dedup"
                    conn.execute(
                        sa.insert(parts).values(
                            job_id=job_id,
                            stage=stage,
                            index=i,
                            input_ref=json.dumps(ref),
                            input_bytes=0,
                            state="committed" if done else "pending",
                            attempts=0,
                            counts={"removed": {"near_duplicate": 3}, "cluster_sizes": {"2": 3}} if done else None,
                        )
                    )
    migrate.upgrade(url)

    def rows(job_id):
        return {
            (p.stage, p.state): p.input_ref
            for p in store.list_partitions(job_id)
            if p.stage in ("near_dedup", "finalize", "train")
        }

    assert rows("old-near") == {
        ("near_dedup", "pending"): {"partitions": 2},
        ("finalize", "pending"): {"partitions": 2},
        ("train", "pending"): {"manifest": "/out/a/manifest.json"},
    }
    assert rows("old-done") == {
        ("finalize", "committed"): {"partitions": 1},
        ("near_dedup", "committed"): {"partitions": 1},
    }
    assert store.get_partition("old-done", "near_dedup", 0).counts["cluster_sizes"] == {"2": 3}
    assert rows("only-trains") == {("train", "pending"): {"manifest": "/m.json"}}
