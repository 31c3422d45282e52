"""A training worker (`celery -A auralith worker -Q hpu --pool=solo`) SIGKILLed past step 37; the supervisor
(`celery beat`) finds it dead by its silent heartbeat and sends the training task again, a new `hpu` worker
continues from the newest committed checkpoint to step 100, and the weights are bit-identical to those of an
uninterrupted run. No `auralith resume`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from auralith.store import Store
from auralith.store.models import JobState
from tests.corpus import REPO
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.faultkit import HEALING_ENV, Beat, cli
from tests.train.conftest import write_shards

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
KILL_AFTER_STEP = 37
TRAINING = {
    "layers": 2,
    "heads": 2,
    "d_model": 64,
    "context": 64,
    "batch_size": 16,
    "steps": 100,
    "lr": 3e-3,
    "warmup_steps": 10,
    "checkpoint_every": 10,
    "keep_last": 3,
    "log_every": 1,
    "progress_interval_s": 0,
    "threads": 1,
    "device": "cpu",
    "seed": 11,
}


def _config(tmp_path: Path, tokenizer_path: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "resume",
                "sources": [{"path": "data/*.jsonl"}],
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "work_dir": "work",
                "training": TRAINING,
            }
        )
    )
    return path


def _worker(env: dict, queues: str, log: Path) -> subprocess.Popen:
    cmd = [
        str(BIN / "celery"),
        "-A",
        "auralith",
        "worker",
        "-Q",
        queues,
        "--pool=solo",
        "-l",
        "INFO",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{queues}-{time.monotonic_ns()}@%h",
    ]
    # A session of its own, so one killpg takes the whole worker, as a crash would.
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_training_worker_killed_past_step_37_resumes_bit_identical(
    client, redis_base, pg_store, tokenizer_path, tmp_path
):
    manifest = write_shards(tmp_path / "shards", tokenizer_path)
    config = _config(tmp_path, tokenizer_path)
    # The uninterrupted reference run, on the in-process worker.
    reference = client.wait(client.train(config, manifest), timeout=300)
    assert reference.state == JobState.SUCCEEDED, reference.error

    flush_redis(SUBPROCESS_REDIS_DB)
    env = {
        **os.environ,
        "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        "AURALITH_STORE_URL": pg_store,
        **HEALING_ENV,
    }
    log = tmp_path / "worker.log"
    beat = Beat(env, tmp_path / "beat.log")
    trainer = _worker(env, "hpu", log)
    try:
        job_id = cli(env, "train", str(config), "--shards", str(manifest), "--submit")
        deadline = time.monotonic() + 120
        while True:
            part = Store(pg_store).get_partition(job_id, "train", 0)
            step = ((part and part.progress) or {}).get("step") or 0
            if step >= KILL_AFTER_STEP:
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.01)
        _kill(trainer)
        killed = time.monotonic()
        killed_at = Store(pg_store).get_partition(job_id, "train", 0).progress["step"]
        resume_from = Store(pg_store).latest_checkpoint(job_id).step
        assert Store(pg_store).get_job(job_id).state == JobState.RUNNING
        assert KILL_AFTER_STEP <= killed_at < 100, "the run finished before the kill: make it slower"
        assert resume_from <= killed_at and resume_from % 10 == 0

        trainer = _worker(env, "hpu", log)
        deadline = time.monotonic() + 120
        while Store(pg_store).get_partition(job_id, "train", 0).attempts < 2:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        restarted = time.monotonic() - killed
        info = client.wait(job_id, timeout=300)
        assert info.state == JobState.SUCCEEDED, (info.error or "") + log.read_text()[-3000:]
    finally:
        _kill(trainer)
        beat.kill()
        flush_redis(SUBPROCESS_REDIS_DB)

    print(f"\nkilled at step {killed_at}, resumed from checkpoint {resume_from} {restarted:.1f} s after the kill")
    assert info.training["step"] == 100 and info.training["last_checkpoint"]["step"] == 100
    assert info.training["params_sha256"] == reference.training["params_sha256"]
    assert info.training["attempts"] == 2
    events = [message for _, _, message in client.events(job_id)]
    assert any(m.startswith("train/0 sent again: worker hpu-") and "silent for" in m for m in events), events
    assert any(f"training resumed at step {resume_from}" in m for m in events), events
    # Every step logged once, and each loss equal to the uninterrupted run's, digit for digit.
    ours, theirs = (Store(pg_store).metrics_history(j) for j in (job_id, reference.id))
    assert [m["step"] for m in ours] == list(range(1, 101))
    assert [m["loss"] for m in ours] == [m["loss"] for m in theirs]
    # The checkpoint on disk hashes like the uninterrupted run's final weights.
    ckpt = Path(info.training["last_checkpoint"]["uri"])
    assert yaml.safe_load((ckpt / "manifest.json").read_text())["params_sha256"] == reference.training["params_sha256"]
