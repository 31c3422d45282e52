"""A Client owns its Celery app and its store: two clients in one process never share either."""

from __future__ import annotations

from auralith.client import Client
from auralith.store.db import dispose_all
from auralith.worker.app import app as worker_app


def test_two_clients_in_one_process_keep_their_own_broker_and_store(tmp_path):
    store_a, store_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    before = (worker_app.conf.broker_url, worker_app.conf.auralith_store_url)
    a = Client("redis://127.0.0.1:1/1", store_a)
    b = Client("redis://127.0.0.1:1/2", store_b)
    assert (a.store_url, a.broker_url) == (store_a, "redis://127.0.0.1:1/1")
    assert (b.store_url, b.broker_url) == (store_b, "redis://127.0.0.1:1/2")
    assert a.app is not b.app and a.app.conf.result_backend == f"auralith+{store_a}"
    # The workers' app is not reconfigured by a client.
    assert (worker_app.conf.broker_url, worker_app.conf.auralith_store_url) == before


def test_each_client_reads_and_writes_its_own_store(tmp_path):
    a = Client("redis://127.0.0.1:1/1", f"sqlite:///{tmp_path / 'a.db'}")
    b = Client("redis://127.0.0.1:1/2", f"sqlite:///{tmp_path / 'b.db'}")
    for client in (a, b):
        client.store.upgrade()
    a.store.create_job("job-a", {"name": "a"}, "h", "a", "normal")
    assert [j.id for j in a.list_jobs()] == ["job-a"] and b.list_jobs() == []
    dispose_all()


def test_heals_workers_and_stuck_units_come_from_the_store(tmp_path):
    # No broadcast on this broker: heartbeats and heals are read from the store alone.
    from auralith.store.models import JobState
    from tests.heartbeats import silence, started_on

    client = Client("memory://", f"sqlite:///{tmp_path / 's.db'}")
    store = client.store
    store.upgrade()
    store.create_job("job-4f2a", {}, "h", "j", "normal")
    store.set_job_state("job-4f2a", JobState.RUNNING)
    store.create_partitions("job-4f2a", {"tokenize": [({}, 0)] * 2})
    store.beat("tokenize@gone", 7, ["tokenize"], ["task-tokenize-1"])
    started_on(store, "job-4f2a", "tokenize", 1, "tokenize@gone")
    silence(store, "tokenize@gone", 60)
    store.add_heal("job-4f2a", "tokenize", 0, "run_lost", "worker tokenize@b no longer runs it")

    assert [(h.stage, h.index, h.reason) for h in client.heals("job-4f")] == [("tokenize", 0, "run_lost")]
    assert [(p["index"], p["worker"]) for p in client.stuck_partitions("job-4f")] == [(1, "tokenize@gone")]
    assert [(w.hostname, w.state, w.held) for w in client.list_workers()] == [("tokenize@gone", "dead", 1)]
    metrics = client.get_metrics()
    assert metrics["heals"] == {"run_lost": 1} and metrics["workers"] == {"alive": 0, "silent": 1}
    dispose_all()
