"""A mixed (weights + token budget), shuffled job writing Megatron .bin/.idx and safetensors shards, on Celery
workers over Redis + PostgreSQL: the same bytes as `auralith run` (embedded), and the same bytes again after
the whole worker is killed in the middle of the `write` stage (healed by `celery beat`, no resume)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from auralith.client import Client
from auralith.steps.shards import load_manifest
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.cli.command import run_auralith
from tests.integration import faultkit as fk
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return fk.write_fault_corpus(tmp_path_factory.mktemp("mix-corpus"))


def _config(tmp: Path, tokenizer: Path, corpus: Path, name: str) -> Path:
    config = tmp / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": f"{corpus}/a.jsonl", "weight": 2}, {"path": f"{corpus}/b.jsonl", "weight": 1}],
                "partition_size_mb": 0.05,
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer)},
                "output": {
                    "path": str(tmp / f"out-{name}"),
                    "max_shard_size_mb": 0.02,
                    "format": ["megatron", "safetensors"],
                    "shuffle": True,
                    "shuffle_seed": 11,
                },
                "mixing": {"token_budget": 15_000, "seed": 4},
                "work_dir": str(tmp / f"work-{name}"),
            }
        )
    )
    return config


def _summary(output_dir: str | Path) -> dict:
    """What must match between runs: shards, Megatron files, figures and the realised mix."""
    m = load_manifest(fk.files, Path(output_dir) / "manifest.json")
    return {
        **fk.manifest_summary(str(output_dir)),
        "megatron": [(x["prefix"], x["bin_sha256"], x["idx_sha256"]) for x in m["megatron"]],
        "sources": [
            (s["tokens"], s["documents"], s["target_tokens"], s["documents_sampled_out"]) for s in m["sources"]
        ],
        "mix": m["mix"],
    }


@pytest.fixture(scope="module")
def reference(celery_worker, corpus, tokenizer_path, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("mix-ref")
    client = Client(celery_worker.app.conf.broker_url, celery_worker.app.conf.auralith_store_url)
    info = client.wait(client.submit(_config(tmp, tokenizer_path, corpus, "mixref")), timeout=180)
    assert info.state == JobState.SUCCEEDED, info.error
    summary = _summary(info.output)
    assert summary["documents_in"] == 667
    assert summary["documents_in"] == summary["documents"] + sum(summary["removed"].values())
    assert summary["removed"]["sampled_out"] > 0
    (a_tokens, *_), (b_tokens, *_) = summary["sources"]
    assert 9_800 < a_tokens <= 10_000 and 4_800 < b_tokens <= 5_000  # 2:1 of the 15,000 budget
    assert len(summary["megatron"]) > 3
    return summary


def test_embedded_run_writes_the_same_bytes(reference, corpus, tokenizer_path, tmp_path):
    out = run_auralith("run", str(_config(tmp_path, tokenizer_path, corpus, "mixref")), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sampled_out" in out.stdout
    assert _summary(tmp_path / "out-mixref") == reference
    data_path = (tmp_path / "out-mixref" / "megatron-data-path.txt").read_text().split()
    assert data_path[1] == str(tmp_path / "out-mixref" / "part-00000") and len(data_path) == 2 * len(
        reference["megatron"]
    )


def test_worker_killed_mid_write_heals_to_the_same_bytes(
    reference, redis_base, pg_store, corpus, tokenizer_path, tmp_path
):
    flush_redis(SUBPROCESS_REDIS_DB)
    env = {
        **os.environ,
        "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        "AURALITH_STORE_URL": pg_store,
        "AURALITH_TEST_PARTITION_DELAY": "0.5",
        **fk.HEALING_ENV,
    }
    worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
    beat = fk.Beat(env, tmp_path / "beat.log")
    try:
        job_id = fk.cli(env, "submit", str(_config(tmp_path, tokenizer_path, corpus, "mixkill")))
        victim = fk.wait_until(lambda: fk.started_first_attempt(pg_store, job_id, "write"), 120, "a write unit")
        worker.kill()
        t_kill = time.monotonic()
        worker = fk.Worker(env, tmp_path / "worker.log", concurrency=2)
        info = Client(store_url=pg_store).wait(job_id, timeout=150)
        assert info.state == JobState.SUCCEEDED, f"{info.error}\n{worker.tail()}"
        healed = time.monotonic() - t_kill
    finally:
        worker.kill()
        beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)
    assert _summary(info.output) == reference
    rerun = Store(pg_store).get_partition(job_id, "write", victim.index)
    assert rerun.state == PartitionState.COMMITTED and rerun.attempts == 2
    fk.report("whole worker SIGKILL mid write (mixed, shuffled, megatron)", kill_to_job_end=healed)
