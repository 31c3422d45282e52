"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

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
    training = {"output": {"path": "/out/a"}, "training": {"steps": 3}}
    for job_id, state, config in (
        ("old-near", "running", training),
        ("old-done", "succeeded", {}),
        ("only-trains", "running", training),
    ):
        store.create_job(job_id, config, "h", job_id, "normal")
        store.set_job_state(job_id, state)
    store.create_partitions(
        "old-near", {"process": [({}, 0)] * 2, "dedup": [({}, 0)], "minhash": [({}, 0)] * 3, "tokenize": [({}, 0)] * 2}
    )
    store.create_partitions(
        "old-done", {"process": [({}, 0)], "dedup": [({}, 0)], "minhash": [({}, 0)], "tokenize": [({}, 0)]}
    )
    dedup = store.get_partition("old-done", "dedup", 0)
    store.commit_partition(dedup.id, {"removed": {"near_duplicate": 3}, "cluster_sizes": {"2": 3}}, None)
    store.create_partitions("only-trains", {"train": [({"manifest": "/m.json"}, 0)]})
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
