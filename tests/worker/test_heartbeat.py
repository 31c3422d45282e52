"""The heartbeat thread writes into the store its worker started with, whatever the app is told later."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from auralith.store import Store
from auralith.worker.heartbeat import Heartbeat


def test_beats_stay_in_the_store_the_worker_started_with(store, tmp_path):
    # One process can hold an in-process worker and then reconfigure its app for an embedded one (the tests do).
    other = Store(f"sqlite:///{tmp_path}/other.db")
    other.upgrade()
    conf = SimpleNamespace(auralith_store_url=store.url, auralith_heartbeat_interval=0.05)
    consumer = SimpleNamespace(
        app=SimpleNamespace(conf=conf, amqp=SimpleNamespace(queues={"process": None})),
        hostname="process@here",
        pool=None,
    )
    step = Heartbeat(consumer)
    step.start(consumer)
    try:
        deadline = time.monotonic() + 10
        while not store.worker_beats():
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)
        conf.auralith_store_url = other.url
        time.sleep(0.3)  # several beats after the change
        assert list(store.worker_beats()) == ["process@here"]
        assert store.worker_beats()["process@here"].pid == os.getpid()
        assert other.worker_beats() == {}
    finally:
        step.shutdown(consumer)
    assert store.worker_beats() == {}  # and its clean stop removes the row where it wrote it
