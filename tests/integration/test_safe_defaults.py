"""Safe defaults on real services: a `celery worker` started without AURALITH_ALLOWED_ROOTS says where jobs may go and
refuses a job that writes elsewhere; a job whose webhook targets the metadata address fails at its start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from auralith.client import Client
from auralith.store.models import JobState
from tests.corpus import sentences, write_jsonl
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _job(root: Path, tokenizer_path: Path, **over) -> dict:
    write_jsonl(root / "data" / "a.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(sentences(50))])
    return {
        "name": "confined",
        "sources": [{"path": str(root / "data" / "*.jsonl")}],
        "tokenization": {"tokenizer": str(tokenizer_path)},
        "output": {"path": str(root / "out")},
        "work_dir": str(root / "work"),
        **over,
    }


def test_a_worker_without_roots_confines_jobs_to_its_folder_and_says_so(redis_base, pg_store, tokenizer_path, tmp_path):
    home = tmp_path / "srv"
    home.mkdir()
    flush_redis(SUBPROCESS_REDIS_DB)
    broker = f"{redis_base}/{SUBPROCESS_REDIS_DB}"
    env = {k: v for k, v in os.environ.items() if k != "AURALITH_ALLOWED_ROOTS"}
    env.update(AURALITH_BROKER_URL=broker, AURALITH_STORE_URL=pg_store)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "auralith",
            "worker",
            "-Q",
            "default,process,dedup,tokenize",
            "-c",
            "1",
            "--pool",
            "solo",
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=home,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        client = Client(broker, pg_store)
        # Outside its folder and the temp folder: /var/lib is neither (nothing is written: refused first).
        job_id = client.submit(_job(home, tokenizer_path, output={"path": "/var/lib/auralith-test-out"}))
        info = client.wait(job_id, timeout=90)
        assert info.state == JobState.FAILED
        assert "output.path: /var/lib/auralith-test-out is outside the allowed roots" in (info.error or "")
        assert not os.path.exists("/var/lib/auralith-test-out")
        text = log.read_text()
        assert f"AURALITH_ALLOWED_ROOTS is not set: jobs may read and write only under {home.resolve()}" in text
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        flush_redis(SUBPROCESS_REDIS_DB)


def test_a_webhook_to_the_metadata_address_fails_the_job_at_its_start(client, tokenizer_path, tmp_path, monkeypatch):
    monkeypatch.setenv("AURALITH_WEBHOOK_HOSTS", "*")  # any host, but not loopback, link-local or metadata
    hook = {"webhook": {"url": "http://169.254.169.254/latest/meta-data/"}}
    job_id = client.submit(_job(tmp_path, tokenizer_path, events=hook))
    info = client.wait(job_id, timeout=60)
    assert info.state == JobState.FAILED
    assert "events.webhook.url: host 169.254.169.254 is a loopback, link-local or metadata address" in info.error
    assert client.partitions(job_id) == []
