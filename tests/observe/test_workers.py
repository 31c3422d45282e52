"""Workers by their heartbeats in the store, joined with ping replies; units started on silent workers."""

from __future__ import annotations

import pytest

from auralith.observe.workers import ALIVE, DEAD, NO_HEARTBEAT, WorkerInfo, stale_partitions, with_heartbeats
from auralith.store import Store
from auralith.store.models import PartitionState
from tests.heartbeats import silence, started_on


@pytest.fixture()
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade()
    return store


def test_heartbeats_tell_alive_from_dead_without_a_broadcast(store):
    store.beat("process@a", 11, ["default", "process"], ["t1", "t2"])
    store.beat("tokenize@b", 12, ["tokenize"], [])
    silence(store, "tokenize@b", 45)
    found = with_heartbeats(None, store.worker_beats(), timeout=30)
    assert [(w.hostname, w.state, w.pid, w.held, w.answered) for w in found] == [
        ("process@a", ALIVE, 11, 2, None),
        ("tokenize@b", DEAD, 12, 0, None),
    ]
    assert found[0].queues == ["default", "process"] and found[0].heartbeat_age_s < 5
    assert 44 <= found[1].heartbeat_age_s < 50
    assert found[1].to_dict()["heartbeat"].startswith(str(found[1].heartbeat.year))


def test_ping_replies_join_heartbeats_by_name(store):
    store.beat("process@a", 11, ["process"], [])
    store.beat("process@gone", 13, ["process"], ["t9"])
    silence(store, "process@gone", 31)
    answered = [
        WorkerInfo("process@a", queues=["default", "process"], answered=True, pid=11, concurrency=4),
        WorkerInfo("old@c", queues=["tokenize"], answered=True, pid=14),  # answers, writes no heartbeat
    ]
    found = {w.hostname: w for w in with_heartbeats(answered, store.worker_beats(), timeout=30)}
    assert (found["process@a"].state, found["process@a"].concurrency) == (ALIVE, 4)
    assert found["process@a"].queues == ["default", "process"]  # the ping's list wins
    assert (found["old@c"].state, found["old@c"].heartbeat) == (NO_HEARTBEAT, None)
    assert (found["process@gone"].state, found["process@gone"].answered, found["process@gone"].held) == (
        DEAD,
        False,
        1,
    )


def test_units_on_silent_workers_are_stale(store):
    store.create_job("j", {}, "h", "j", "normal")
    store.create_partitions("j", {"process": [({}, 1)] * 5})
    store.beat("alive@a", 1, ["process"], ["task-process-0"])
    store.beat("dead@b", 2, ["process"], ["task-process-1"])
    silence(store, "dead@b", 40)
    started_on(store, "j", "process", 0, "alive@a")
    started_on(store, "j", "process", 1, "dead@b")
    started_on(store, "j", "process", 2, "never@c", seconds_ago=60)  # no heartbeat row, started long ago
    started_on(store, "j", "process", 3, "new@d")  # no row yet, but it started a moment ago
    parts = store.list_partitions("j")
    stale = stale_partitions(parts, store.worker_beats(), 30, store.db_now())
    assert [(p.index, p.worker) for p, _ in stale] == [(1, "dead@b"), (2, "never@c")]
    assert 39 <= stale[0][1] < 45 and stale[1][1] is None
    assert all(p.state == PartitionState.STARTED for p, _ in stale)
    # The same heartbeats under a longer timeout: nobody is silent yet.
    assert [p.index for p, _ in stale_partitions(parts, store.worker_beats(), 50, store.db_now())] == [2]
