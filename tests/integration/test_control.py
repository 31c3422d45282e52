"""Job control on a real prefork worker: cancel --terminate stops the job's work and keeps what was
committed; a job's soft time limit reaches its tasks, which are retried.

The worker holds each partition's first attempt for a moment (the AURALITH_TEST_PARTITION_DELAY seam), so
the revoke nearly always finds one running and terminates it; what is checked holds either way."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.faultkit import cli
from tests.integration.test_monitoring import _job
from tests.integration.test_priority import _worker

pytestmark = pytest.mark.integration


def test_cancel_terminate_then_resume_and_time_limits(client, redis_base, pg_store, tokenizer_path, tmp_path):
    flush_redis(SUBPROCESS_REDIS_DB)
    env = {**os.environ, "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}", "AURALITH_STORE_URL": pg_store}
    log = tmp_path / "worker.log"
    worker = _worker({**env, "AURALITH_TEST_PARTITION_DELAY": "0.2"}, log)
    try:
        job_id = cli(env, "submit", str(_job(tmp_path, tokenizer_path, "terminated", docs=1500)))
        deadline = time.monotonic() + 90
        while True:
            parts = Store(pg_store).list_partitions(job_id, "process")
            if sum(p.state == PartitionState.COMMITTED for p in parts) >= 3 and any(
                p.state == PartitionState.STARTED for p in parts
            ):
                break
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.01)
        assert "tasks revoked" in cli(env, "cancel", "--terminate", job_id)
        committed = {
            p.index: p.output_ref["clean"]
            for p in Store(pg_store).list_partitions(job_id, "process")
            if p.state == PartitionState.COMMITTED
        }
        time.sleep(2)
        after = Store(pg_store).list_partitions(job_id)
        assert Store(pg_store).get_job(job_id).state == JobState.CANCELLED
        assert not [p for p in after if p.state == PartitionState.STARTED]
        # Committed work is intact: the same rows, their files still there.
        still = {p.index for p in after if p.stage == "process" and p.state == PartitionState.COMMITTED}
        assert still >= set(committed)
        assert all(Path(path).exists() for path in committed.values())
        assert worker.poll() is None  # the worker lives on; only its pool process was terminated
        # Recording the terminated task as revoked used to raise here, in the worker's main process, and
        # left its message unacknowledged: the worker took no more work and the resumed job never ended.
        assert "pidbox command error" not in log.read_text(), log.read_text()[-3000:]

        assert cli(env, "resume", job_id) == f"resumed {job_id}"
        info = _wait(client, pg_store, job_id, log, 240)
        assert info.state == JobState.SUCCEEDED, info.error
        assert info.stats.documents_out == 1500

        # The job's own soft time limit reaches its tasks (the worker sets none). Each partition's first
        # attempt sleeps past it inside the task body (the AURALITH_TEST_PARTITION_DELAY seam, on a fresh
        # worker), is released and retried, and the job completes with every document once: over the soft
        # limit a task is retried, not failed (docs/config.md, limits.soft_time_limit). A limit so small
        # that it lands in Celery's own bookkeeping outside the body would fail the task instead.
        os.killpg(worker.pid, 9)
        worker.wait(10)
        worker = _worker({**env, "AURALITH_TEST_PARTITION_DELAY": "3"}, log)
        limited = cli(
            env,
            "submit",
            str(_job(tmp_path, tokenizer_path, "limited", docs=300, limits={"soft_time_limit": 1, "time_limit": 30})),
        )
        info = _wait(client, pg_store, limited, log, 300)
        assert info.state == JobState.SUCCEEDED, info.error
        assert info.stats.documents_out == 300 and not info.stats.removed
        parts = Store(pg_store).list_partitions(limited)
        assert all(p.attempts >= 2 for p in parts), [(p.stage, p.index, p.attempts) for p in parts]
        text = log.read_text()
        assert "SoftTimeLimitExceeded" in text and "Retry in" in text, text[-3000:]
    finally:
        os.killpg(worker.pid, 9)
        worker.wait(10)
        flush_redis(SUBPROCESS_REDIS_DB)


def _wait(client, store: str, job_id: str, log: Path, timeout: float):
    """client.wait, saying on a timeout where the job stands and what the worker last logged."""
    try:
        return client.wait(job_id, timeout=timeout)
    except TimeoutError as exc:
        parts = [
            (p.stage, p.index, p.state, p.attempts, p.task_id)
            for p in Store(store).list_partitions(job_id)
            if p.state != PartitionState.COMMITTED
        ]
        pytest.fail(f"{exc}\nnot committed: {parts}\nworker log:\n{log.read_text()[-6000:]}")
