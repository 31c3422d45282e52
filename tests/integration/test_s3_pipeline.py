"""Whole jobs reading from and writing to S3 (moto on loopback) on a real Celery worker, Redis and
PostgreSQL: the manifest equals the same job's on local files, also while the server throttles, and with
near dedup's signature, band and edge files in an S3 work dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.steps.shards import iter_shard_documents, load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import JobState
from tests.pipeline.test_near_dedup import near_corpus
from tests.storage.test_s3_sources import corpus, upload_tree

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration

SAME = ("documents", "tokens", "documents_in", "removed", "dtype")


def job(sources: list[str], work: str, out: str, tokenizer: Path, **extra) -> dict:
    # Synthetic sentences and docstrings: the quality filters (tested on their own) would remove most of them.
    preprocessing = {"quality": {"enabled": False}, **extra.pop("preprocessing", {})}
    return {
        "name": "s3",
        "sources": [{"path": p} for p in sources],
        "work_dir": work,
        "partition_size_mb": 0.05,
        "preprocessing": preprocessing,
        "tokenization": {"tokenizer": str(tokenizer)},
        "output": {"path": out, "max_shard_size_mb": 0.02},
        **extra,
    }


def shard_facts(manifest: dict) -> list[tuple]:
    return [(s["path"], s["n_docs"], s["n_tokens"], s["bytes"], s["sha256"], s["tensors"]) for s in manifest["shards"]]


@pytest.fixture()
def inputs(tmp_path: Path, bucket: str) -> tuple[Path, str]:
    corpus(tmp_path / "in")
    upload_tree(tmp_path / "in", f"s3://{bucket}/in")
    return tmp_path / "in", f"s3://{bucket}"


def test_s3_job_gives_the_manifest_of_the_local_job(client, inputs, tmp_path, tokenizer_path):
    local_in, base = inputs
    local = client.wait(
        client.submit(
            job([f"{local_in}/*.*", f"{local_in}/hf"], str(tmp_path / "work"), str(tmp_path / "out"), tokenizer_path)
        ),
        timeout=180,
    )
    remote = client.wait(
        client.submit(job([f"{base}/in/*.*", f"{base}/in/hf"], f"{base}/work", f"{base}/out", tokenizer_path)),
        timeout=180,
    )
    assert local.state == remote.state == JobState.SUCCEEDED, (local.error, remote.error)
    assert remote.output == f"{base}/out"

    want, got = load_manifest(files, tmp_path / "out"), load_manifest(files, f"{base}/out")
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}
    assert shard_facts(got) == shard_facts(want) and len(got["shards"]) > 3
    first = got["shards"][0]["path"]
    assert [d.tolist() for d in iter_shard_documents(files, f"{base}/out/{first}")] == [
        d.tolist() for d in iter_shard_documents(files, tmp_path / "out" / first)
    ]
    # Only finished objects under the output prefix: the shards, the manifest and the owner marker.
    names = sorted(p.rsplit("/", 1)[1] for p, _ in files.list_files(f"{base}/out"))
    assert names == sorted([s["path"] for s in got["shards"]] + ["manifest.json", ".auralith-job"])
    assert files.list_files(f"{base}/work/{remote.id}/clean/*.jsonl.zst")


def test_s3_job_completes_while_the_server_throttles(client, pg_store, s3_server, inputs, tmp_path, tokenizer_path):
    _, base = inputs
    # Two attempts per request: four 503 SlowDown in a row outlast botocore's retry, so a TransientError
    # reaches the task, which Celery retries with its backoff.
    config = job(
        [f"{base}/in/*.*", f"{base}/in/hf"],
        f"{base}/work",
        f"{base}/out-throttled",
        tokenizer_path,
        storage={"s3": {"max_attempts": 2}},
    )
    s3_server.throttle_next(4)  # the first requests: run_job's listing of the sources
    before = s3_server.throttle.requests
    info = client.wait(client.submit(config), timeout=240)
    assert info.state == JobState.SUCCEEDED, info.error
    assert s3_server.throttle.throttled == 4
    assert load_manifest(files, f"{base}/out-throttled")["documents"] > 2000
    per_job = s3_server.throttle.requests - before

    # Again, with the throttling starting later: in the middle of the partitions' reads and writes. Half
    # the job's requests, not a fixed count: planning's own reads (format sniffing, HF folders) grow as
    # sources learn more, and a throttle that lands there is retried by run_job, not by a partition.
    s3_server.throttle_next(4, after=per_job // 2)
    info = client.wait(client.submit({**config, "output": {**config["output"], "path": f"{base}/out-t2"}}), timeout=240)
    assert info.state == JobState.SUCCEEDED, info.error
    assert s3_server.throttle.throttled == 4
    retried = [(p.stage, p.index) for p in Store(pg_store).list_partitions(info.id) if p.attempts > 1]
    assert retried, "a partition task met the throttling and was retried"
    throttled = load_manifest(files, f"{base}/out-throttled")
    assert shard_facts(load_manifest(files, f"{base}/out-t2")) == shard_facts(throttled)


def test_near_dedup_on_s3_gives_the_manifest_of_the_local_job(client, bucket, tmp_path, tokenizer_path):
    expected = near_corpus(tmp_path / "data")
    upload_tree(tmp_path / "data", f"s3://{bucket}/near")
    base = f"s3://{bucket}"
    near = {
        "preprocessing": {"near_dedup": {"enabled": True, "bucket_slice_entries": 20}},
        "partition_size_mb": (tmp_path / "data" / "a.jsonl").stat().st_size / 2**20,
    }
    local = client.wait(
        client.submit(
            job([f"{tmp_path}/data/*.jsonl"], str(tmp_path / "work"), str(tmp_path / "out"), tokenizer_path, **near)
        ),
        timeout=180,
    )
    remote = client.wait(
        client.submit(job([f"{base}/near/*.jsonl"], f"{base}/work", f"{base}/out", tokenizer_path, **near)), timeout=180
    )
    assert local.state == remote.state == JobState.SUCCEEDED, (local.error, remote.error)

    want, got = load_manifest(files, tmp_path / "out"), load_manifest(files, f"{base}/out")
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}
    assert got["removed"]["near_duplicate"] == len(expected["near_duplicate"])
    assert shard_facts(got) == shard_facts(want)
    minhash = f"{base}/work/{remote.id}/minhash"
    assert len(files.list_files(f"{minhash}/edges/*.npy")) == 20 and files.exists(f"{minhash}/clusters.json")

    # The report reads the clusters file from the S3 work dir.
    runner = CliRunner()
    reports = [json.loads(runner.invoke(main, ["dedup-report", i, "--json"]).output) for i in (local.id, remote.id)]
    assert reports[1]["biggest"] == reports[0]["biggest"] and reports[1]["biggest"][0]["kept"] == "b040"
    assert {k: v for k, v in reports[1].items() if k != "job_id"} == {
        k: v for k, v in reports[0].items() if k != "job_id"
    }
