"""The supervisor's rules, on a real SQLite store and kombu's in-memory broker (what it sends is read back).

Lost messages on a Redis broker, the advisory lock and the faults themselves are in tests/integration.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from auralith.store import Store
from auralith.store.db import session_scope
from auralith.store.models import JobState, Partition, PartitionState, WorkerBeat
from auralith.worker.lifecycle import advance
from auralith.worker.supervisor import HealScheduler, Supervisor, describe_input

CONFIG = {"name": "j", "sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}
PIECE = {"pieces": [{"source": "/data/a.jsonl", "start": 0, "end": 5000, "first_line": 1}]}


@pytest.fixture
def supervisor(app):
    sup = Supervisor(app)
    sup._store_ok_since = -1e9  # the store has been reachable for ages: heartbeats can be trusted
    return sup


def start_job(app, store, stages=None, config=CONFIG) -> str:
    store.create_job("job-1", config, "h" * 64, "j", "normal")
    stages = stages or {"process": 3, "dedup": 1, "tokenize": 3, "finalize": 1}
    store.create_partitions(
        "job-1", {s: [(PIECE if s == "process" else {"i": i}, 0) for i in range(n)] for s, n in stages.items()}
    )
    store.set_job_state("job-1", JobState.RUNNING)
    advance(app, store, "job-1")
    return "job-1"


def sent_messages(app) -> list[dict]:
    """(task, id, group, priority) of every message on the in-memory broker's `process` queue, draining it."""
    out = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue("process")
        while True:
            try:
                msg = queue.get(block=False)
            except queue.Empty:
                break
            out.append(
                {
                    "task": msg.headers["task"],
                    "id": msg.headers["id"],
                    "group": msg.headers.get("group"),
                    "priority": msg.properties.get("priority"),
                }
            )
            msg.ack()
        queue.close()
    return out


def age(store: Store, model, seconds: float, *where, **columns) -> None:
    """Move timestamps `seconds` into the past (database time)."""
    now = store.db_now()
    with session_scope(store.url) as s:
        s.execute(update(model).where(*where).values({c: now - timedelta(seconds=seconds) for c in columns}))


def claim(store: Store, index: int, worker: str) -> Partition:
    part = store.get_partition("job-1", "process", index)
    assert store.claim_partition("job-1", "process", index, worker, part.task_id).run
    return store.get_partition("job-1", "process", index)


def test_a_unit_whose_worker_went_silent_is_sent_again_in_its_chord_at_the_highest_priority(app, store, supervisor):
    start_job(app, store)
    first = sent_messages(app)
    part = claim(store, 1, "p1@host")
    store.beat("p1@host", 10, ["process"], [part.task_id])
    age(store, WorkerBeat, 34, WorkerBeat.name == "p1@host", last_seen=True)

    (heal,) = supervisor.round()

    assert (heal.reason, heal.stage, heal.index) == ("worker_dead", "process", 1)
    assert heal.message == "process/1 sent again: worker p1@host silent for 34 s (redelivery 1 of at most 3)"
    row = store.get_partition("job-1", "process", 1)
    assert (row.state, row.redeliveries, row.lost_on, row.task_id) == ("pending", 1, ["p1@host"], part.task_id)
    (again,) = sent_messages(app)
    assert again["id"] == part.task_id and again["group"] == first[1]["group"]  # its chord counts it once
    assert again["priority"] == 0  # Redis-style: served first
    assert store.list_events("job-1")[-1].message == heal.message
    assert [(h.reason, h.index) for h in store.list_heals("job-1")] == [("worker_dead", 1)]
    assert supervisor.round() == []  # healed once: the unit is pending and freshly sent


def test_a_unit_a_live_worker_holds_is_left_alone(app, store, supervisor):
    start_job(app, store)
    part = claim(store, 0, "p1@host")
    store.beat("p1@host", 10, ["process"], [part.task_id])
    age(store, Partition, 60, Partition.id == part.id, started_at=True, sent_at=True)
    assert supervisor.round() == []


def test_a_unit_whose_pool_process_died_is_sent_again_though_its_worker_lives(app, store, supervisor):
    """Celery requeues it at the back of the queue; the supervisor sends it ahead of the queued ones."""
    start_job(app, store)
    part = claim(store, 2, "p1@host")
    age(store, Partition, 10, Partition.id == part.id, started_at=True)
    store.beat("p1@host", 10, ["process"], [])  # a heartbeat after the claim, without the task
    (heal,) = supervisor.round()
    assert heal.reason == "run_lost" and "no longer runs it" in heal.detail


def test_silent_workers_are_not_taken_for_dead_until_the_store_was_reachable_a_whole_timeout(app, store):
    """After a database outage every heartbeat is stale: the supervisor must not resend everything."""
    start_job(app, store)
    part = claim(store, 1, "p1@host")
    store.beat("p1@host", 10, ["process"], [part.task_id])
    age(store, WorkerBeat, 34, WorkerBeat.name == "p1@host", last_seen=True)
    fresh = Supervisor(app)
    assert fresh.round() == []
    fresh._store_ok_since -= 5  # the store has now been reachable for longer than the heartbeat timeout
    assert [h.reason for h in fresh.round()] == ["worker_dead"]


def test_a_unit_that_kills_every_worker_fails_the_job_naming_its_input_and_the_workers(app, store, supervisor):
    start_job(app, store)
    for n in range(1, 5):
        part = claim(store, 0, f"p{n}@host")
        store.beat(f"p{n}@host", 10, ["process"], [part.task_id])
        age(store, WorkerBeat, 60, WorkerBeat.name == f"p{n}@host", last_seen=True)
        (heal,) = supervisor.round()
    assert heal.reason == "gave_up"
    job = store.get_job("job-1")
    assert heal.message == job.error
    assert job.state == JobState.FAILED
    assert job.error.startswith(
        "process partition 0 (input /data/a.jsonl bytes 0-5000 from line 1): the workers running it died 4 times "
        "(p1@host, p2@host, p3@host, p4@host); limits.max_redeliveries is 3."
    )
    assert store.get_partition("job-1", "process", 0).state == PartitionState.FAILED


def test_a_stage_whose_chord_body_never_ran_is_moved_on(app, store, supervisor):
    start_job(app, store)
    for p in store.list_partitions("job-1", "process"):
        store.commit_partition(p.id, {}, None)
    assert supervisor.round() == []  # just finished: the body may be on its way
    age(store, Partition, 20, Partition.stage == "process", finished_at=True)
    (heal,) = supervisor.round()
    assert (heal.reason, heal.stage) == ("stalled", "dedup")
    assert heal.message.startswith("stage dedup sent: stage process finished 20 s ago")
    assert store.get_partition("job-1", "dedup", 0).task_id is not None


def test_a_job_whose_last_body_never_ran_is_finished(app, store, supervisor):
    start_job(app, store, {"process": 1})
    store.commit_partition(store.get_partition("job-1", "process", 0).id, {}, None)
    age(store, Partition, 20, Partition.stage == "process", finished_at=True)
    (heal,) = supervisor.round()
    assert heal.reason == "stalled" and heal.detail.startswith("job marked finished")
    assert store.get_job("job-1").state == JobState.SUCCEEDED


def test_the_beat_scheduler_runs_the_heal_entry_in_its_own_process(app, store, monkeypatch):
    rounds = []
    monkeypatch.setattr(Supervisor, "round", lambda self: rounds.append(self) or [])
    sent = []
    monkeypatch.setattr(app, "send_task", lambda *a, **kw: sent.append(a))
    scheduler = HealScheduler(app=app, lazy=True)
    scheduler.setup_schedule()
    scheduler.apply_entry(scheduler.schedule["auralith-heal"])
    assert len(rounds) == 1 and sent == []


def test_describe_input():
    assert describe_input(PIECE) == "input /data/a.jsonl bytes 0-5000 from line 1"
    assert describe_input({"manifest": "/out/manifest.json"}) == "shards /out/manifest.json"
    assert describe_input({"partitions": 4, "band": 2}) == "band 2, partitions 4"
