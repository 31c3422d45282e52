"""Retry policy of Auralith's tasks: transient errors back off 5 s, 10 s, 20 s ... capped at 300 s; bad input
and bad config fail at once."""

from __future__ import annotations

from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import IntegrityError, OperationalError

from auralith.errors import ConfigError, InputError, TransientError
from auralith.worker import tasks


def _retried(exc: BaseException, task) -> bool:
    return isinstance(exc, task.autoretry_for) and not isinstance(exc, task.dont_autoretry_for)


def test_every_task_shares_the_policy():
    for task in (tasks.run_job, tasks.process_partition, tasks.dedup_exact, tasks.tokenize_partition,
                 tasks.finalize_job):
        assert (task.retry_backoff, task.retry_backoff_max, task.retry_jitter) == (5, 300, True)
        assert task.max_retries == 8 and task.acks_late and task.reject_on_worker_lost


def test_backoff_doubles_from_5_s_up_to_300_s():
    gaps = [get_exponential_backoff_interval(5, n, 300, full_jitter=False) for n in range(8)]
    assert gaps == [5, 10, 20, 40, 80, 160, 300, 300]


def test_what_is_retried():
    task = tasks.process_partition
    assert _retried(TransientError("x"), task)
    assert _retried(OperationalError("select 1", {}, Exception("server closed the connection")), task)
    assert _retried(ConnectionResetError(), task) and _retried(OSError(5, "I/O error"), task)
    assert not _retried(InputError("bad line", file="a.jsonl", line=3), task)
    assert not _retried(ConfigError(["x: bad"]), task)
    assert not _retried(IntegrityError("insert", {}, Exception("duplicate key")), task)
    assert not _retried(FileNotFoundError("gone"), task) and not _retried(PermissionError("no"), task)
