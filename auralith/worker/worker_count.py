"""How many worker processes will run a job's partitions: what an unset partition_size_mb is chosen for."""

from __future__ import annotations

import os

from celery import Celery

from auralith.store import Store

# The embedded worker (auralith.worker.embedded_process) knows its own number of processes and sets this.
WORKER_PROCESSES_KEY = "auralith_worker_processes"


def worker_processes(app: Celery, store: Store) -> int:
    """The embedded worker's processes; on a cluster, the live workers (by heartbeat) that consume the `process`
    queue, each counted as this machine's cores (Celery's default concurrency): an estimate, which only sets
    how finely a job is cut, never whether it runs."""
    known = app.conf.get(WORKER_PROCESSES_KEY)
    if known:
        return int(known)
    timeout = float(app.conf.auralith_heartbeat_timeout)
    live = [b for b in store.worker_beats().values() if b.alive(timeout) and "process" in b.queues]
    return max(1, len(live)) * (os.cpu_count() or 1)
