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
    for task in (
        tasks.run_job,
        tasks.process_partition,
        tasks.dedup_exact,
        tasks.tokenize_partition,
        tasks.finalize_job,
    ):
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


def test_the_training_task_goes_to_the_hpu_queue_with_routing_key_hpu_train():
    from auralith.pipeline.stages import stage
    from auralith.worker.app import app
    from auralith.worker.base import StageTask

    route = app.amqp.router.route({}, tasks.train_model.name)
    assert route["queue"].name == "hpu" and route["routing_key"] == "hpu.train"
    assert route["queue"].routing_key == "hpu.train", "the hpu queue must be bound to the key it is sent with"
    assert stage("train").task == tasks.train_model.name and tasks.train_model.stage == "train"
    assert isinstance(tasks.train_model, StageTask)
    assert tasks.train_model.acks_late and tasks.train_model.reject_on_worker_lost


def test_importing_the_tasks_does_not_import_torch():
    import subprocess
    import sys

    from tests.corpus import REPO

    code = "import sys, auralith.worker.tasks; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "False"
