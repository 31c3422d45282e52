"""The embedded worker heals like a cluster: its heartbeat is in the store while it runs, and the supervisor runs
in a thread beside it. Its worker is a process of its own, with one prefork child per process asked for."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

from sqlalchemy import update

from auralith.store import Store
from auralith.store.db import dispose_all, session_scope
from auralith.store.models import JobState, Partition
from auralith.worker.app import app
from auralith.worker.embedded import embedded_worker, embedded_worker_pid

CONFIG = {"name": "j", "sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}


def test_the_embedded_worker_beats_and_heals(tmp_path, monkeypatch):
    monkeypatch.setitem(app.conf, "auralith_heal_interval", 0.2)
    monkeypatch.setitem(app.conf, "auralith_heartbeat_interval", 0.2)
    monkeypatch.setenv("AURALITH_HEARTBEAT_INTERVAL_S", "0.2")  # read by the worker process at its start
    try:
        with embedded_worker(tmp_path / "state", concurrency=2) as (_, store_url):
            store = Store(store_url)
            assert any(t.name == "auralith-supervisor" for t in threading.enumerate())
            worker = embedded_worker_pid()
            assert worker != os.getpid()
            deadline = time.monotonic() + 60  # the worker process starts (imports, forks) on a busy machine
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
            (beat,) = store.worker_beats().values()
            assert beat.pid == worker and beat.pool == "prefork"
            assert len(_children(worker)) == 2
        assert store.worker_beats() == {}  # a worker that stops cleanly removes its heartbeat
        assert not os.path.exists(f"/proc/{worker}"), "the worker process was stopped and reaped"
        assert not any(t.name == "auralith-supervisor" for t in threading.enumerate())
    finally:
        dispose_all()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(c) for c in fh.read().split()]
