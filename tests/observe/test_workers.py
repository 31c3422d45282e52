"""Which started partitions are stuck: their worker does not answer."""

from __future__ import annotations

from auralith.observe.workers import stuck_partitions
from auralith.store.models import Partition, PartitionState


def _part(index: int, state: str, worker: str | None) -> Partition:
    return Partition(job_id="j", stage="process", index=index, state=state, worker=worker, input_ref={})


def test_started_on_a_silent_worker_is_stuck():
    parts = [
        _part(0, PartitionState.STARTED, "celery@alive"),
        _part(1, PartitionState.STARTED, "celery@gone"),
        _part(2, PartitionState.COMMITTED, "celery@gone"),
        _part(3, PartitionState.PENDING, None),
    ]
    assert [p.index for p in stuck_partitions(parts, {"celery@alive"})] == [1]
    assert [p.index for p in stuck_partitions(parts, set())] == [0, 1]


def test_unknown_liveness_reports_nothing():
    # A broker without broadcast cannot tell a dead worker from a live one: say nothing rather than guess.
    assert stuck_partitions([_part(0, PartitionState.STARTED, "celery@x")], None) == []
