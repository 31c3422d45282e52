"""Worker-side hooks, connected when a worker imports the app's modules: task metrics and log redaction."""

from __future__ import annotations

import time

from celery import signals

from auralith.observe.metrics import TASK_DURATION, TASK_RETRIES, TASKS
from auralith.redact import install_log_redaction

# task id -> monotonic start time, per process (prefork children each have their own).
_started: dict[str, float] = {}


def _ours(task) -> bool:
    return bool(task) and getattr(task, "name", "").startswith("auralith.")


def _short(task) -> str:
    return task.name.removeprefix("auralith.")


@signals.task_prerun.connect
def _on_prerun(task_id=None, task=None, **_) -> None:
    if _ours(task):
        _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _on_postrun(task_id=None, task=None, state=None, **_) -> None:
    start = _started.pop(task_id, None)
    if not _ours(task):
        return
    # A retry ends the run too (state RETRY); the retry itself is counted by _on_retry.
    # IGNORED: a task that replaced itself (none of Auralith's does since advance() sends each stage).
    outcome = {
        "SUCCESS": "success",
        "FAILURE": "failure",
        "RETRY": "retry",
        "IGNORED": "replaced",
        "REVOKED": "revoked",
    }.get(state or "", "other")
    TASKS.labels(_short(task), outcome).inc()
    if start is not None:
        TASK_DURATION.labels(_short(task), outcome).observe(time.monotonic() - start)


@signals.task_retry.connect
def _on_retry(sender=None, reason=None, **_) -> None:
    if _ours(sender):
        exc = getattr(reason, "exc", None) or reason
        TASK_RETRIES.labels(_short(sender), type(exc).__name__ if exc is not None else "unknown").inc()


@signals.task_revoked.connect
def _on_revoked(sender=None, request=None, **_) -> None:
    if _ours(sender):
        TASKS.labels(_short(sender), "revoked").inc()
        if request is not None and getattr(request, "id", None):
            _started.pop(request.id, None)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_logs(logger=None, **_) -> None:
    install_log_redaction(logger)
