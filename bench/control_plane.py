"""The control plane at 100,000 partitions: a job planned and tracked in PostgreSQL, and how long what reads or
re-plans it takes (goal: each < 1 s). The partitions are tiny (rows only: nothing runs), which is what the
control plane sees of a 1.6 TB job in 16 MB partitions.

    python bench/control_plane.py --partitions 100000

The job is caught mid process stage: 60% of its process units committed (with figures), a few running on a
live worker (a heartbeat that lists them), the rest queued on Redis (one message each, so the supervisor's
queue depths match). Timed, median of `--rounds`:
- plan: inserting the job's rows (process and tokenize units, the dedup decision) in one transaction;
- status: `auralith status JOB` in this process (CliRunner), everything but Python's start;
- watch: one refresh of `auralith watch` (the job with its figures, and its heals);
- resume planning: `advance(resend=True)` after a cancel (every unfinished unit gets a new task id), up to the
  messages, which are collected instead of sent;
- supervisor: one round of the supervisor's scan over the running job.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_BROKER = os.environ.get("AURALITH_BENCH_BROKER", "redis://127.0.0.1:6379/6")
CONFIG = {
    "name": "control-plane",
    "sources": [{"path": "/nonexistent/*.jsonl"}],
    "tokenization": {"tokenizer": "/nonexistent/tokenizer.json"},
    "output": {"path": "/nonexistent/out"},
}


def _fresh_database(server: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def _median_s(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(partitions: int, server: str, broker: str, rounds: int = 3, log=print) -> dict:
    import redis
    from click.testing import CliRunner
    from sqlalchemy import update

    from auralith.cli.main import main as cli
    from auralith.client import Client
    from auralith.store import Store
    from auralith.store.db import dispose_all, session_scope
    from auralith.store.models import JobState, Partition, PartitionState
    from auralith.worker.app import make_app
    from auralith.worker.lifecycle import advance
    from auralith.worker.supervisor import Supervisor

    store_url = _fresh_database(server, "auralith_bench_control_plane")
    store = Store(store_url)
    store.upgrade()
    job_id = "cp-job"
    store.create_job(job_id, CONFIG, "h" * 64, CONFIG["name"], "normal")
    ref = {"pieces": [{"source": "/data/part-00000.jsonl", "start": 0, "end": 16 << 20}]}
    start = time.perf_counter()
    store.create_partitions(
        job_id,
        {
            "process": [(ref, 16 << 20)] * partitions,
            "dedup": [({}, 0)],
            "tokenize": [({}, 0)] * partitions,
        },
    )
    plan_s = time.perf_counter() - start
    log(f"  planned {2 * partitions + 1:,} rows in {plan_s:.2f} s")
    store.set_job_state(job_id, JobState.RUNNING)
    done, running = partitions * 6 // 10, 4
    counts = {"docs_in": 5000, "docs_out": 4100, "bytes_in": 16 << 20, "removed": {"length.too_short": 900}}
    with session_scope(store_url) as s:
        base = update(Partition).where(Partition.job_id == job_id, Partition.stage == "process")
        s.execute(base.values(task_id=Partition.id.cast(type_=Partition.task_id.type), sent_at=store.db_now()))
        s.execute(
            base.where(Partition.index < done).values(
                state=PartitionState.COMMITTED, counts=counts, finished_at=store.db_now(), attempts=1
            )
        )
        s.execute(
            base.where(Partition.index >= done, Partition.index < done + running).values(
                state=PartitionState.STARTED, worker="bench@host", started_at=store.db_now(), attempts=1
            )
        )
    held = [str(p.task_id) for p in store.list_partitions(job_id, "process") if p.state == PartitionState.STARTED]
    store.beat("bench@host", os.getpid(), ["process"], held, "prefork")
    app = make_app(broker, store_url)
    r = redis.Redis.from_url(broker)
    r.flushdb()
    waiting = partitions - done - running
    for i in range(0, waiting, 10_000):  # the queued units' messages, so that the queue's depth is right
        r.lpush("process", *[b"m"] * min(10_000, waiting - i))
    client = Client(broker, store_url)
    out = CliRunner().invoke(cli, ["--store", store_url, "status", job_id], terminal_width=160)
    assert out.exit_code == 0, out.output
    figures = {
        "partitions": partitions,
        "plan_s": plan_s,
        "status_s": _median_s(
            lambda: CliRunner().invoke(cli, ["--store", store_url, "status", job_id], terminal_width=160), rounds
        ),
        "watch_s": _median_s(lambda: (client.get_job(job_id), client.heals(job_id)), rounds),
        "supervisor_s": _median_s(lambda: Supervisor(app).round(), rounds),
    }
    store.beat("bench@host", os.getpid(), ["process"], held, "prefork")

    def resume_planning() -> None:
        store.set_job_state(job_id, JobState.RUNNING)
        store.reset_unfinished(job_id, clear_task_ids=True)  # as after a cancel: every unfinished unit re-sent
        advance(app, store, job_id, resend=True, send=lambda sig: None)

    figures["resume_s"] = _median_s(resume_planning, rounds)
    r.flushdb()
    dispose_all()
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partitions", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL, without a database")
    ap.add_argument("--broker", default=DEFAULT_BROKER, help="a Redis database this bench may flush")
    args = ap.parse_args(argv)
    from bench.pipeline import boost

    boost()  # AURALITH_BENCH_NICE (bench/pipeline.py)
    figures = measure(args.partitions, args.server, args.broker, args.rounds)
    print(json.dumps(figures, indent=2))
    return 0 if all(figures[k] < 1 for k in ("status_s", "watch_s", "supervisor_s", "resume_s")) else 1


if __name__ == "__main__":
    sys.exit(main())
