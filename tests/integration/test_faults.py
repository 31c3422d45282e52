"""Faults against the real services: each job runs on subprocess workers with `celery beat` (the supervisor),
something breaks in the middle of a partition, and the job must end, with no `auralith resume`, with the
manifest of an uninterrupted run, every input document accounted for once (kept, or removed under one reason).

Run with `pytest -s tests/integration/test_faults.py` to see the recovery times.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from auralith.client import Client
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.integration import faultkit as fk
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

pytestmark = pytest.mark.integration
DELAY = "1.5"  # seconds each partition's first attempt waits between writing its files and committing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return fk.write_fault_corpus(tmp_path_factory.mktemp("fault-corpus"))


@pytest.fixture(scope="module")
def reference(celery_worker, corpus, tokenizer_path, tmp_path_factory) -> dict:
    """The uninterrupted run of the same input, on the in-process worker."""
    tmp = tmp_path_factory.mktemp("fault-ref")
    client = Client(celery_worker.app.conf.broker_url, celery_worker.app.conf.auralith_store_url)
    info = client.wait(
        client.submit(fk.write_config(tmp, tokenizer_path, "reference", f"{corpus}/*.jsonl")), timeout=180
    )
    assert info.state == JobState.SUCCEEDED, info.error
    summary = fk.manifest_summary(info.output)
    assert summary["documents_in"] == 667
    assert summary["documents_in"] == summary["documents"] + sum(summary["removed"].values())
    return summary


def _env(broker: str, store: str, **extra: str) -> dict:
    return {
        **os.environ,
        "AURALITH_BROKER_URL": broker,
        "AURALITH_STORE_URL": store,
        "AURALITH_TEST_PARTITION_DELAY": DELAY,
        **fk.HEALING_ENV,
        **extra,
    }


def _check_same(store: str, job_id: str, reference: dict) -> dict:
    info = Client(store_url=store).wait(job_id, timeout=150)
    assert info.state == JobState.SUCCEEDED, info.error
    summary = fk.manifest_summary(info.output)
    assert summary == reference
    assert summary["documents_in"] == summary["documents"] + sum(summary["removed"].values())
    return summary


def _heals(store: str, job_id: str) -> list[str]:
    return [f"{h.reason}: {h.stage}/{h.index} {h.detail}" for h in Store(store).list_heals(job_id)]


def _committed_again(store: str, job_id: str, stage: str, index: int) -> bool:
    return Store(store).get_partition(job_id, stage, index).state == PartitionState.COMMITTED


@pytest.mark.parametrize("stage", ["process", "dedup", "tokenize"])
def test_whole_worker_killed_heals_without_a_human(
    reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path, stage
):
    """The whole worker (its process group) SIGKILLed mid-partition, as when a node is preempted; a new worker
    comes up. The supervisor (`celery beat`) finds the dead worker's partition by its silent heartbeat and
    sends it again: no `auralith resume`."""
    flush_redis(SUBPROCESS_REDIS_DB)
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", pg_store)
    worker = fk.Worker(env, tmp_path / "worker.log")
    beat = fk.Beat(env, tmp_path / "beat.log")
    try:
        t_start = time.monotonic()
        config = fk.write_config(tmp_path, tokenizer_path, f"killed-{stage}", f"{corpus}/*.jsonl")
        job_id = fk.cli(env, "submit", str(config))
        victim = fk.wait_until(lambda: fk.started_first_attempt(pg_store, job_id, stage), 90, f"a {stage} unit mid-way")
        worker.kill()
        t_kill = time.monotonic()
        worker = fk.Worker(env, tmp_path / "worker.log")
        fk.wait_until(lambda: _committed_again(pg_store, job_id, stage, victim.index), 90, "the unit to run again")
        t_rerun = time.monotonic() - t_kill
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    heals = _heals(pg_store, job_id)
    assert any(h.startswith(f"worker_dead: {stage}/{victim.index} worker ") and "silent for" in h for h in heals), heals
    parts = {(p.stage, p.index): p for p in Store(pg_store).list_partitions(job_id)}
    assert parts[(stage, victim.index)].attempts == 2 and parts[(stage, victim.index)].redeliveries == 1
    assert all(p.attempts == 1 for key, p in parts.items() if key != (stage, victim.index))
    events = Client(store_url=pg_store).events(job_id)
    assert any(f"{stage}/{victim.index} sent again: worker" in m for _, _, m in events), events
    fk.report(f"whole worker SIGKILL mid {stage}", kill_to_unit_committed=t_rerun, job_total=total)
    print("\n".join(f"  {t:%H:%M:%S} {level:7} {m}" for t, level, m in events))  # the event log, with -s


def test_pool_process_killed_runs_again_ahead_of_the_queue(
    reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path
):
    """One pool process SIGKILLed: Celery requeues its message at the back of the queue; the supervisor sees
    the worker alive but no longer holding the unit, and sends it again ahead of the queued partitions."""
    flush_redis(SUBPROCESS_REDIS_DB)
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", pg_store, AURALITH_TEST_PARTITION_DELAY="3")
    worker = fk.Worker(env, tmp_path / "worker.log")
    beat = fk.Beat(env, tmp_path / "beat.log")
    try:
        config = fk.write_config(tmp_path, tokenizer_path, "pool-kill", f"{corpus}/*.jsonl")
        job_id = fk.cli(env, "submit", str(config))
        victim = fk.wait_until(lambda: fk.started_first_attempt(pg_store, job_id, "process"), 90, "a unit mid-way")
        queued = len(Store(pg_store).list_partitions(job_id, "process")) - fk.committed(pg_store, job_id) - 1
        (child,) = worker.pool_children()
        os.kill(child, signal.SIGKILL)
        t_kill = time.monotonic()
        fk.wait_until(lambda: _committed_again(pg_store, job_id, "process", victim.index), 90, "the unit to rerun")
        t_rerun = time.monotonic() - t_kill
        behind = len(Store(pg_store).list_partitions(job_id, "process")) - fk.committed(pg_store, job_id, "process")
        _check_same(pg_store, job_id, reference)
    finally:
        worker.kill()
        beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    heals = _heals(pg_store, job_id)
    assert any(h.startswith(f"run_lost: process/{victim.index}") for h in heals), heals
    # Each partition takes over 3 s here: run again within a few seconds, most of the queue is still waiting.
    assert queued < 2 or behind >= 1, (queued, behind, t_rerun)
    fk.report("pool process SIGKILL", kill_to_unit_committed=t_rerun, queued_at_kill=queued, left_at_rerun=behind)


def test_resume_while_partitions_run_runs_nothing_twice(
    reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path
):
    """`auralith resume` on a job whose partitions are running or queued: what live workers hold is left to
    them, and every partition runs once."""
    flush_redis(SUBPROCESS_REDIS_DB)
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", pg_store)
    worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, "rerun", f"{corpus}/*.jsonl")))
        fk.wait_until(lambda: fk.started_first_attempt(pg_store, job_id, "process"), 90, "a partition mid-way")
        assert fk.cli(env, "resume", job_id) == f"resumed {job_id}"
        _check_same(pg_store, job_id, reference)
    finally:
        worker.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    parts = Store(pg_store).list_partitions(job_id)
    assert [(p.stage, p.index) for p in parts if p.attempts != 1] == []


@pytest.mark.parametrize("appendonly", [False, True], ids=["no-persistence", "appendonly"])
def test_redis_restarted_mid_job(reference, pg_store, corpus, tokenizer_path, tmp_path, appendonly):
    """A private Redis is killed and restarted mid-partition; the worker and beat reconnect by themselves.

    Without persistence the queued messages are gone: the supervisor finds the units sent but neither
    claimed, nor held by a live worker, nor on the broker, and sends them again. With appendonly the queue
    survives and runs on. Either way: no `auralith resume`.
    """
    server = fk.RedisServer(tmp_path / "redis", appendonly=appendonly)
    env = _env(server.url, pg_store)
    worker = fk.Worker(env, tmp_path / "worker.log")
    beat = fk.Beat(env, tmp_path / "beat.log")
    name = f"redis-{'aof' if appendonly else 'plain'}"
    try:
        t_start = time.monotonic()
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, name, f"{corpus}/*.jsonl")))
        fk.wait_until(
            lambda: (
                fk.committed(pg_store, job_id, "process") >= 1 and fk.started_first_attempt(pg_store, job_id, "process")
            ),
            90,
            "a partition mid-way",
        )
        down = server.restart()
        recovery = fk.Recovery(pg_store, job_id, queued_only=True)
        fk.wait_until(worker.reconnected, 60, "the worker to reconnect")
        reconnected = time.monotonic() - recovery.fault_at
        t_progress = recovery.wait_progress()
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        beat.kill()
        server.kill()
    heals = _heals(pg_store, job_id)
    if not appendonly:
        assert any(h.startswith("message_lost: ") for h in heals), heals
    assert not any(h.startswith(("worker_dead", "run_lost")) for h in heals), heals
    fk.report(
        f"redis restart ({'appendonly' if appendonly else 'no persistence'})",
        redis_down=down,
        worker_reconnected=reconnected,
        restart_to_queued_partition_commit=t_progress,
        job_total=total,
        heals=len(heals),
    )


@pytest.fixture(scope="module")
def pg_cluster():
    cluster = fk.PostgresCluster()
    yield cluster
    cluster.destroy()


def test_postgres_stopped_30s_mid_job(reference, redis_base, pg_cluster, corpus, tokenizer_path, tmp_path):
    """A private PostgreSQL cluster stopped (`pg_ctl stop -m fast`) for 30 s mid-partition, then started: every
    write a task makes after its work retries through the outage, heartbeats resume, and the supervisor takes
    no live worker for dead. The job finishes by itself."""
    from auralith.store import migrate

    store = pg_cluster.url
    migrate.upgrade(store)
    flush_redis(SUBPROCESS_REDIS_DB)
    # Two pool processes, so that while one waits to commit through the outage the other meets it elsewhere.
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", store, AURALITH_TEST_PARTITION_DELAY="3")
    worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
    beat = fk.Beat(env, tmp_path / "beat.log")
    try:
        t_start = time.monotonic()
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, "pg", f"{corpus}/*.jsonl")))
        fk.wait_until(lambda: fk.started_first_attempt(store, job_id, "process"), 90, "a partition mid-way")
        pg_cluster.stop("fast")
        time.sleep(30)
        pg_cluster.start()
        recovery = fk.Recovery(store, job_id)
        t_progress = recovery.wait_progress(timeout=120)
        _check_same(store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    log = worker.tail(10**7)
    heals = _heals(store, job_id)
    assert not any(h.startswith(("worker_dead", "run_lost")) for h in heals), heals
    parts = Store(store).list_partitions(job_id)
    assert max(p.attempts for p in parts) <= 2, [(p.stage, p.index, p.attempts) for p in parts]
    fk.report(
        "postgres stopped 30 s",
        back_to_next_commit=t_progress,
        job_total=total,
        outage_retries=log.count("the database is unreachable"),
        heals=len(heals),
    )


def test_soft_time_limit_is_retried_not_lost(reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path):
    """Every partition's first attempt overruns a 1 s soft time limit: each is released and retried, the
    retry commits, and the figures are those of the uninterrupted run (nothing counted twice)."""
    flush_redis(SUBPROCESS_REDIS_DB)
    env = _env(
        f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        pg_store,
        AURALITH_TASK_SOFT_TIME_LIMIT="1",
        AURALITH_TASK_TIME_LIMIT="60",
        AURALITH_TEST_PARTITION_DELAY="2.5",
    )
    worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        t_start = time.monotonic()
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, "soft", f"{corpus}/*.jsonl")))
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    log = worker.tail(10**7)
    parts = Store(pg_store).list_partitions(job_id)
    assert all(p.attempts >= 2 for p in parts), [(p.stage, p.index, p.attempts) for p in parts]  # cut, then retried
    assert log.count("SoftTimeLimitExceeded") >= len(parts)
    fk.report("soft time limit", partitions_retried=len(parts), job_total=total)
