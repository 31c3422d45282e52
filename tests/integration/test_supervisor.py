"""The supervisor on the real services: one of several beats heals (the PostgreSQL advisory lock), and a unit
whose message a Redis broker no longer has is sent again."""

from __future__ import annotations

import time

import pytest

from auralith.store import Store
from auralith.store.locks import LeaderLock
from auralith.store.models import JobState
from auralith.worker.app import make_app
from auralith.worker.lifecycle import advance
from auralith.worker.supervisor import Supervisor
from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

pytestmark = pytest.mark.integration


def test_one_lock_holder_at_a_time_and_a_standby_takes_over(pg_store):
    first, second = LeaderLock(pg_store, "auralith-test-lock"), LeaderLock(pg_store, "auralith-test-lock")
    try:
        assert first.held() and first.held()  # held across calls, on its own connection
        assert not second.held()
        first.release()  # as when the holding beat dies: its connection closes
        assert second.held() and not first.held()
    finally:
        first.release()
        second.release()


def test_a_unit_whose_message_the_broker_lost_is_sent_again(redis_base, pg_store):
    flush_redis(SUBPROCESS_REDIS_DB)
    app = make_app(f"{redis_base}/{SUBPROCESS_REDIS_DB}", pg_store)
    app.conf.update(auralith_heartbeat_interval=0.1, auralith_heartbeat_timeout=3.0)
    store = Store(pg_store)
    store.upgrade()
    job_id = "lost-msg-job"
    config = {"name": "j", "sources": {"path": "x.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}
    store.create_job(job_id, config, "h" * 64, "j", "normal")
    store.create_partitions(job_id, {"process": [({"i": i}, 0) for i in range(3)]})
    store.set_job_state(job_id, JobState.RUNNING)
    supervisor = Supervisor(app)
    try:
        advance(app, store, job_id)

        def heals() -> list:
            return [h for h in supervisor.round() if h.job_id == job_id]  # other tests' jobs are not ours

        assert heals() == []  # sent just now: its messages may still be on their way
        time.sleep(0.3)
        assert heals() == []  # all three wait in the queue
        flush_redis(SUBPROCESS_REDIS_DB)  # the broker loses them (a restart without persistence)
        healed = heals()
        assert sorted((h.reason, h.index) for h in healed) == [("message_lost", i) for i in range(3)]
        assert all("not on the broker" in h.detail for h in healed)
        time.sleep(0.3)
        assert heals() == []  # on the broker again
    finally:
        supervisor.lock.release()  # held, it would keep every later test's beat standing by
        store.set_job_state(job_id, JobState.CANCELLED)
        flush_redis(SUBPROCESS_REDIS_DB)
