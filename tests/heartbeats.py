"""Heartbeats and heals written into a real store, as workers and the supervisor leave them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from auralith.store import Store
from auralith.store.models import WorkerBeat


def silence(store: Store, name: str, seconds: float) -> None:
    """Make worker `name`'s last heartbeat `seconds` old, as if it had died then."""
    with store.session() as s:
        s.execute(
            update(WorkerBeat)
            .where(WorkerBeat.name == name)
            .values(last_seen=store.db_now() - timedelta(seconds=seconds))
        )


def started_on(store: Store, job_id: str, stage: str, index: int, worker: str, seconds_ago: float = 0) -> None:
    """Claim unit `stage/index` for `worker`, as a task does when it starts, `seconds_ago` seconds ago."""
    from auralith.store.models import Partition

    store.claim_partition(job_id, stage, index, worker, f"task-{stage}-{index}")
    if seconds_ago:
        with store.session() as s:
            s.execute(
                update(Partition)
                .where(Partition.job_id == job_id, Partition.stage == stage, Partition.index == index)
                .values(started_at=store.db_now() - timedelta(seconds=seconds_ago))
            )
