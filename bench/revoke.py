"""What a revoke costs a worker's main process: Celery's database result backend vs Auralith's.

    python bench/revoke.py           # prints a table: ms per revoked id, each backend, and the ratio

Celery 5.7's `revoke` control command runs in the worker's main process and, for every revoked id, reads
the task's state from the result backend and stores REVOKED (celery.worker.control._revoke); meanwhile
that process takes no work. This replays those two calls for IDS ids in this (unforked) process, as the
main process makes them, with Celery's `db+` backend and Auralith's `auralith+` backend on the same
PostgreSQL database, alternating rounds, median of ROUNDS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from celery import Celery
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auralith.store import migrate  # noqa: E402
from bench.pipeline import DEFAULT_STORE  # noqa: E402

IDS = 100
ROUNDS = 5


def revoke_ms_per_id(backend) -> float:
    ids = [str(uuid.uuid4()) for _ in range(IDS)]
    start = time.perf_counter()
    for task_id in ids:  # what celery.worker.control._revoke does per id
        if backend.get_state(task_id) == "PENDING":
            backend.mark_as_revoked(task_id, reason="revoked", store_result=True)
    return (time.perf_counter() - start) * 1000 / IDS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--store",
        default=os.environ.get("AURALITH_BENCH_STORE", DEFAULT_STORE),
        help="a PostgreSQL database to create the bench's own database from",
    )
    args = ap.parse_args()
    name = f"auralith_bench_revoke_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.store, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.store.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        backends = {
            "celery db+": Celery("celery-db", backend=f"db+{url}", set_as_current=False).backend,
            "auralith+": Celery("auralith", backend=f"auralith+{url}", set_as_current=False).backend,
        }
        times: dict[str, list[float]] = {label: [] for label in backends}
        for backend in backends.values():  # warm-up: table creation, imports
            revoke_ms_per_id(backend)
        for _ in range(ROUNDS):
            for label, backend in backends.items():
                times[label].append(revoke_ms_per_id(backend))
        celery_ms, ours_ms = (statistics.median(times[label]) for label in backends)
        print(f"{'backend':<12} | {'ms per revoked id':>17} | rounds (ms)")
        print(f"{'-' * 12}-+-{'-' * 17}-+-{'-' * 30}")
        for label in backends:
            rounds = ", ".join(f"{t:.1f}" for t in times[label])
            print(f"{label:<12} | {statistics.median(times[label]):>17.1f} | {rounds}")
        print(
            f"\nAuralith's backend: {celery_ms / ours_ms:.1f}x faster per revoked id "
            f"({IDS} ids, median of {ROUNDS} alternating rounds, one process, no fork)"
        )
    finally:
        from auralith.store.db import dispose_all

        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
