"""A worker process SIGKILLed in the middle of a job; a new worker and `auralith resume` finish it, and
the shards are identical to those of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.corpus import REPO, sentences, write_jsonl
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.faultkit import cli

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _config(tmp_path: Path, tokenizer_path: Path, name: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": "data/*.jsonl"}],
                "partition_size_mb": 0.02,
                "preprocessing": {"quality": {"enabled": False}},  # synthetic sentences: keep them all
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": f"out-{name}", "max_shard_size_mb": 0.01},
                "work_dir": f"work-{name}",
            }
        )
    )
    return config


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    cmd = [
        str(BIN / "celery"),
        "-A",
        "auralith",
        "worker",
        "-Q",
        "default,process,dedup,tokenize",
        "-c",
        "1",
        "--pool",
        "prefork",
        "-l",
        "INFO",
        "--without-mingle",
        "--without-gossip",
    ]
    # A session of its own, so one killpg takes the worker and its pool children, as a crash would.
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _tensor_hashes(manifest_dir: str) -> list[tuple[str, dict]]:
    return [(s["path"], s["tensors"]) for s in load_manifest(files, Path(manifest_dir) / "manifest.json")["shards"]]


def test_sigkill_mid_job_then_resume_gives_identical_shards(client, redis_base, pg_store, tokenizer_path, tmp_path):
    write_jsonl(
        tmp_path / "data" / "corpus.jsonl",
        [{"id": f"d{i:05d}", "text": t} for i, t in enumerate(sentences(4000, seed=11))],
    )
    # The uninterrupted reference run, on the in-process worker.
    reference = client.wait(client.submit(_config(tmp_path, tokenizer_path, "reference")), timeout=180)
    assert reference.state == JobState.SUCCEEDED, reference.error

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
        killed_at = Store(pg_store).get_job(job_id)
        committed = sum(p.state == PartitionState.COMMITTED for p in Store(pg_store).list_partitions(job_id))
        running = [(p.stage, p.index) for p in Store(pg_store).list_partitions(job_id) if p.state == "started"]
        assert killed_at.state == JobState.RUNNING, "the job finished before the kill: make it bigger"

        worker = _start_worker(env, log)
        assert cli(env, "resume", job_id) == f"resumed {job_id}"
        try:
            info = client.wait(job_id, timeout=60)
        except TimeoutError:
            rows = [(p.stage, p.index, p.state, p.worker, p.attempts) for p in Store(pg_store).list_partitions(job_id)]
            raise AssertionError(f"{rows}\n{Store(pg_store).worker_beats()}\n{log.read_text()[-6000:]}") from None
        assert info.state == JobState.SUCCEEDED, info.error + log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        flush_redis(SUBPROCESS_REDIS_DB)

    total = len(Store(pg_store).list_partitions(job_id))
    assert committed < total
    # The killed worker's heartbeat was seconds old, but it answered no ping: the resume took its unit over at
    # once, and nothing else ran twice.
    twice = [(p.stage, p.index) for p in Store(pg_store).list_partitions(job_id) if p.attempts > 1]
    assert twice == running
    assert _tensor_hashes(info.output) == _tensor_hashes(reference.output)
    assert info.stats.documents_out == reference.stats.documents_out == 4000
    # Nothing counted twice: the figures are those of the uninterrupted run.
    assert info.stats.to_dict()["removed"] == reference.stats.to_dict()["removed"]
    assert info.stats.tokens == reference.stats.tokens
