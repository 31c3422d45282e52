"""Faults against the real services: each job runs on subprocess workers, something breaks in the middle
of a partition, and the job must end with the manifest of an uninterrupted run, every input document
accounted for once (kept, or removed under one reason).

Run with `pytest -s tests/integration/test_faults.py` to see the recovery times.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from auralith.client import Client
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.corpus import sentences, write_jsonl
from tests.integration import faultkit as fk
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

pytestmark = pytest.mark.integration
DELAY = "1.5"  # seconds each partition's first attempt waits between writing its files and committing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """~5 partitions: documents, exact duplicates, bad lines and empty texts, so every count is exercised."""
    root = tmp_path_factory.mktemp("fault-corpus")
    texts = sentences(600, seed=23)
    records = [{"id": f"d{i:04d}", "text": t} for i, t in enumerate(texts)]
    records += [{"id": f"dup{i:03d}", "text": texts[i * 7]} for i in range(60)]
    records += [{"id": f"e{i}", "text": ""} for i in range(5)]
    write_jsonl(root / "a.jsonl", records[:400])
    write_jsonl(root / "b.jsonl", records[400:])
    with open(root / "b.jsonl", "a") as fh:
        fh.write('{"id": "broken", "text": \n[1, 2]\n')
    return root


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
        **extra,
    }


def _check_same(store: str, job_id: str, reference: dict) -> dict:
    info = Client(store_url=store).wait(job_id, timeout=150)
    assert info.state == JobState.SUCCEEDED, info.error
    summary = fk.manifest_summary(info.output)
    assert summary == reference
    assert summary["documents_in"] == summary["documents"] + sum(summary["removed"].values())
    return summary


def test_worker_sigkilled_twice_mid_partition(reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path):
    """Kill 1: the pool process running a partition (the worker requeues it at once). Kill 2: the whole
    worker, mid-partition of the tokenize stage; a new worker and `auralith resume` finish the job."""
    flush_redis(SUBPROCESS_REDIS_DB)
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", pg_store)
    worker = fk.Worker(env, tmp_path / "worker.log")
    try:
        t_start = time.monotonic()
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, "killed", f"{corpus}/*.jsonl")))
        victim = fk.wait_until(
            lambda: fk.started_first_attempt(pg_store, job_id, "process"), 90, "a process partition mid-way"
        )
        (child,) = worker.pool_children()
        os.kill(child, signal.SIGKILL)
        first = fk.Recovery(pg_store, job_id)
        t_first = first.wait_progress()

        fk.wait_until(
            lambda: fk.started_first_attempt(pg_store, job_id, "tokenize"), 90, "a tokenize partition mid-way"
        )
        worker.kill()
        second = fk.Recovery(pg_store, job_id)
        assert Store(pg_store).get_job(job_id).state == JobState.RUNNING
        worker = fk.Worker(env, tmp_path / "worker.log")
        assert fk.cli(env, "resume", job_id) == f"resumed {job_id}"
        t_second = second.wait_progress()
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    parts = {(p.stage, p.index): p for p in Store(pg_store).list_partitions(job_id)}
    assert parts[("process", victim.index)].attempts == 2
    # Nothing else ran twice: the visibility timeout (6 h) is far above any task here.
    assert all(p.attempts == 1 for key, p in parts.items() if key != ("process", victim.index))
    fk.report(
        "worker SIGKILL x2",
        pool_child_kill_to_next_commit=t_first,
        whole_worker_kill_to_next_commit=t_second,
        job_total=total,
    )


@pytest.mark.parametrize("appendonly", [False, True], ids=["no-persistence", "appendonly"])
def test_redis_restarted_mid_job(reference, pg_store, corpus, tokenizer_path, tmp_path, appendonly):
    """A private Redis is killed and restarted mid-partition; the worker reconnects by itself.

    Without persistence the queued messages are gone: the job makes no progress until `auralith resume`
    re-enqueues what is not committed (the documented recovery). With appendonly the queued partitions
    survive and run on their own; the chord's unlock message, held unacknowledged by the worker at the
    restart, only comes back after the visibility timeout, so when the process stage stalls there,
    `auralith resume` finishes the job too (the test prints whether it did).
    """
    server = fk.RedisServer(tmp_path / "redis", appendonly=appendonly)
    env = _env(server.url, pg_store)
    worker = fk.Worker(env, tmp_path / "worker.log")
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
        if appendonly:
            t_progress = recovery.wait_progress()  # no resume: the queue survived
            n_process = len(Store(pg_store).list_partitions(job_id, "process"))
            fk.wait_until(lambda: fk.committed(pg_store, job_id, "process") == n_process, 90, "the queue to drain")
            try:  # does the chord fire by itself, i.e. did its unlock message survive?
                fk.wait_until(lambda: fk.committed(pg_store, job_id, "dedup"), 10, "dedup")
            except AssertionError:
                pass
        else:
            time.sleep(3)
            assert not recovery.progressed(), "queued partitions ran although Redis lost its queues"
        resumed = fk.committed(pg_store, job_id, "dedup") == 0
        if resumed:
            assert fk.cli(env, "resume", job_id) == f"resumed {job_id}"
        if not appendonly:
            t_progress = recovery.wait_progress()
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        server.kill()
    fk.report(
        f"redis restart ({'appendonly' if appendonly else 'no persistence'})",
        redis_down=down,
        worker_reconnected=reconnected,
        restart_to_queued_partition_commit=t_progress,
        job_total=total,
        stalled_until_resume=resumed,
    )


def test_postgres_refusing_connections_20s(reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path):
    """PostgreSQL behind a loopback proxy that refuses every connection for 20 s, mid-partition: tasks
    fail with OperationalError and retry with backoff; the job finishes by itself once it is back."""
    url = make_url(pg_store)
    proxy = fk.TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    flush_redis(SUBPROCESS_REDIS_DB)
    # A longer pause before the commit than the other tests use, so that on a busy machine the cut still
    # tends to land inside it; and two pool processes, so that while one waits to store a result (the
    # result backend retries through the outage), the other takes queued partitions and meets the outage.
    env = _env(f"{redis_base}/{SUBPROCESS_REDIS_DB}", proxied, AURALITH_TEST_PARTITION_DELAY="3")
    worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        t_start = time.monotonic()
        job_id = fk.cli(env, "submit", str(fk.write_config(tmp_path, tokenizer_path, "pg", f"{corpus}/*.jsonl")))
        victim = fk.wait_until(lambda: fk.started_first_attempt(pg_store, job_id, "process"), 90, "a partition mid-way")
        proxy.cut()
        landed = Store(pg_store).get_partition(job_id, "process", victim.index).state == PartitionState.STARTED
        time.sleep(20)
        proxy.restore()
        recovery = fk.Recovery(pg_store, job_id)
        t_progress = recovery.wait_progress(timeout=120)
        _check_same(pg_store, job_id, reference)
        total = time.monotonic() - t_start
    finally:
        worker.kill()
        proxy.close()
        flush_redis(SUBPROCESS_REDIS_DB)
    log = worker.tail(10**7)
    task_retries = sum("Retry in" in line and "OperationalError" in line for line in log.splitlines())
    assert task_retries >= 1, log[-3000:]
    parts = Store(pg_store).list_partitions(job_id)
    assert max(p.attempts for p in parts) <= 2, [(p.stage, p.index, p.attempts) for p in parts]
    fk.report(
        "postgres refused 20 s",
        cut_mid_partition=landed,
        restore_to_next_commit=t_progress,
        job_total=total,
        task_retries=task_retries,
        result_store_retries=log.count("Failed operation _store_result"),
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
