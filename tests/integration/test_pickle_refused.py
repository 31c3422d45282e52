"""A pickle-serialized task message on the worker's queue is refused unread, and the worker keeps working.

Pickle runs code while it decodes, so a worker that accepted it would run whatever a message carries;
Auralith accepts JSON only (`accept_content=["json"]`).
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest
import redis
from celery import uuid

from auralith.worker.app import app

pytestmark = pytest.mark.integration


class _Payload:
    """Unpickling this creates a file: the proof that the message was decoded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_message_is_refused_and_worker_keeps_running(celery_worker, tmp_path):
    marker = tmp_path / "pickle-was-decoded"
    task_id = uuid()
    headers = {
        "lang": "py",
        "task": "celery.accumulate",
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "argsrepr": "",
        "kwargsrepr": "",
        "origin": "attacker",
    }
    body = pickle.dumps(
        ([_Payload(marker)], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}), protocol=2
    )
    queue = app.amqp.queues["default"]
    with app.producer_or_acquire() as producer:  # the app's own connection: same transport options as the worker
        producer.publish(
            body,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers=headers,
        )
    broker = redis.Redis.from_url(app.conf.broker_url)
    deadline = time.monotonic() + 30
    while broker.llen("default") and time.monotonic() < deadline:  # the worker took the message off the queue
        time.sleep(0.1)
    assert broker.llen("default") == 0
    time.sleep(1)
    assert not marker.exists(), "the worker unpickled a message"
    # The same worker still runs JSON tasks.
    assert app.send_task("celery.accumulate", args=[1, 2], queue="default").get(timeout=60) == [1, 2]
    assert not marker.exists()
    assert app.AsyncResult(task_id).state == "PENDING"  # never ran
