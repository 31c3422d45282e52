"""The embedded worker heals like a cluster: its heartbeat is in the store while it runs, and the supervisor runs
in a thread beside it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import update

from auralith.store import Store
from auralith.store.db import dispose_all, session_scope
from auralith.store.models import JobState, Partition
from auralith.worker.app import app
from auralith.worker.embedded import embedded_worker

CONFIG = {"name": "j", "sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}


def test_the_embedded_worker_beats_and_heals(tmp_path, monkeypatch):
    monkeypatch.setitem(app.conf, "auralith_heal_interval", 0.2)
    monkeypatch.setitem(app.conf, "auralith_heartbeat_interval", 0.2)
    try:
        with embedded_worker(tmp_path / "state", concurrency=1) as (_, store_url):
            store = Store(store_url)
            assert any(t.name == "auralith-supervisor" for t in threading.enumerate())
            deadline = time.monotonic() + 10
            while not store.worker_beats():
                assert time.monotonic() < deadline, "no heartbeat from the embedded worker"
                time.sleep(0.05)
            # A job whose every unit committed a while ago but whose end nobody recorded (a lost chord body).
            store.create_job("job-1", CONFIG, "h" * 64, "j", "normal")
            store.create_partitions("job-1", {"process": [({}, 0)]})
            store.set_job_state("job-1", JobState.RUNNING)
            store.commit_partition(store.get_partition("job-1", "process", 0).id, {}, None)
            with session_scope(store_url) as s:
                s.execute(update(Partition).values(finished_at=store.db_now() - timedelta(seconds=60)))
            while not store.list_heals("job-1"):  # recorded right after the job is marked succeeded
                assert time.monotonic() < deadline, store.list_events("job-1")
                time.sleep(0.05)
            assert [h.reason for h in store.list_heals("job-1")] == ["stalled"]
            assert store.get_job("job-1").state == JobState.SUCCEEDED
        assert store.worker_beats() == {}  # a worker that stops cleanly removes its heartbeat
        assert not any(t.name == "auralith-supervisor" for t in threading.enumerate())
    finally:
        dispose_all()
