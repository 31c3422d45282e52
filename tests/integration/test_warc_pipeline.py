"""A folder of .warc.gz files on real Celery workers (Redis + PostgreSQL): a worker SIGKILLed mid-job, a new
one and `auralith resume` finish it, and the shards and counts equal an uninterrupted run's."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import yaml

from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.faultkit import cli
from tests.integration.test_crash_resume import _start_worker, _tensor_hashes

pytestmark = pytest.mark.integration
DATA = Path(__file__).parents[1] / "data"


def _config(tmp_path: Path, tokenizer_path: Path, name: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": "crawl/*.warc.gz"}],
                "partition_size_mb": 0.01,
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": f"out-{name}", "max_shard_size_mb": 0.01},
                "work_dir": f"work-{name}",
            }
        )
    )
    return config


def test_warc_job_killed_worker_resume_gives_identical_shards(client, redis_base, pg_store, tokenizer_path, tmp_path):
    (tmp_path / "crawl").mkdir()
    for copy in range(3):  # three crawls of the same pages: more partitions, and duplicates to drop
        for f in DATA.glob("python-docs-*.warc.gz"):
            shutil.copy(f, tmp_path / "crawl" / f"c{copy}-{f.name}")
    reference = client.wait(client.submit(_config(tmp_path, tokenizer_path, "reference")), timeout=180)
    assert reference.state == JobState.SUCCEEDED, reference.error
    stats = reference.stats.to_dict()
    assert stats["documents_in"] == 3 * 57
    assert stats["documents_in"] == stats["documents_out"] + stats["removed_total"]
    assert stats["documents_out"] == 16 and stats["removed"]["exact_duplicate"] == 32
    assert stats["input_errors"] == {"invalid_record": 3, "truncated": 6}

    flush_redis(SUBPROCESS_REDIS_DB)
    env = {**os.environ, "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}", "AURALITH_STORE_URL": pg_store}
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    try:
        job_id = cli(env, "submit", str(_config(tmp_path, tokenizer_path, "crashed")))
        deadline = time.monotonic() + 60
        while True:
            parts = Store(pg_store).list_partitions(job_id, "process")
            if sum(p.state == PartitionState.COMMITTED for p in parts) >= 5:
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert Store(pg_store).get_job(job_id).state == JobState.RUNNING, "finished before the kill: make it bigger"
        worker = _start_worker(env, log)
        assert cli(env, "resume", job_id) == f"resumed {job_id}"
        info = client.wait(job_id, timeout=90)
        assert info.state == JobState.SUCCEEDED, info.error + log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        flush_redis(SUBPROCESS_REDIS_DB)

    assert _tensor_hashes(info.output) == _tensor_hashes(reference.output)
    assert info.stats.to_dict()["removed"] == stats["removed"]
    assert info.stats.to_dict()["documents_in"] == stats["documents_in"]
    assert info.stats.tokens == reference.stats.tokens
