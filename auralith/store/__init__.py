"""The SQL store: Auralith's rows (jobs, events, partitions, checkpoints, training metrics), nothing else.

    store = Store("postgresql+psycopg://postgres@127.0.0.1/test")
    store.get_job(job_id)

A `Store` only reads and writes rows: no broker, no files, no webhooks. Callers that want an event to
reach the job's sinks use `auralith.worker.events.record_event`.
"""

from __future__ import annotations

from functools import lru_cache

from auralith.store.db import check_ready
from auralith.store.heals import HealRows
from auralith.store.jobs import JobRows, new_job_id
from auralith.store.partitions import MAX_ATTEMPTS, Claim, PartitionRows
from auralith.store.training import TRAIN_STAGE, CheckpointState, TrainingRows
from auralith.store.workers import Beat, WorkerRows


class Store(JobRows, PartitionRows, TrainingRows, WorkerRows, HealRows):
    """One SQL store, by URL (PostgreSQL or SQLite). Cheap to create: engines are shared per URL and process."""

    @classmethod
    @lru_cache(maxsize=32)
    def for_url(cls, url: str) -> Store:
        return cls(url)

    def check_ready(self) -> None:
        """Raise StoreNotReady with a clear message when the store is unreachable or not migrated."""
        check_ready(self.url)

    def upgrade(self) -> bool:
        """Create or migrate the tables to the newest schema; True if a migration ran."""
        from auralith.store import migrate  # alembic: only for the commands that migrate

        return migrate.upgrade(self.url)


__all__ = ["MAX_ATTEMPTS", "Beat", "TRAIN_STAGE", "CheckpointState", "Claim", "Store", "new_job_id"]
