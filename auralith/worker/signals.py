"""Worker-side hooks, connected when a worker imports the app's modules: task metrics, log redaction, and no
clock-drift warning for events that only waited while a task held the worker's main thread."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery import signals
from celery.events.state import DRIFT_WARNING

from auralith.observe.metrics import TASK_DURATION, TASK_RETRIES, TASKS
from auralith.redact import install_log_redaction
from auralith.sources.roots import confine_server

log = logging.getLogger(__name__)

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


# When this process last finished a task (wall clock). In a solo pool (`-Q hpu --pool=solo`) the task runs in the
# worker's main thread, which reads no events meanwhile.
_busy_until = 0.0


class LateEventsAreNotDrift(logging.Filter):
    """Drops Celery's "Substantial drift from X may mean clocks are out of sync" for an event sent before this
    process's last task ended and read after it: the event waited while a solo-pool task (a training run)
    held the main thread. It was late, not skewed; a real skew, or an event from the future, still warns."""

    SLACK_S = 2.0  # the backlog is read within moments of the task's end

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        times = [t.timestamp() for t in args[2:4] if isinstance(t, datetime)]
        if record.msg != DRIFT_WARNING or len(times) != 2:
            return True
        received, sent = times
        return not (sent <= _busy_until + self.SLACK_S and received >= sent)


logging.getLogger("celery.events.state").addFilter(LateEventsAreNotDrift())


@signals.task_postrun.connect
def _on_postrun(task_id=None, task=None, state=None, **_) -> None:
    global _busy_until
    _busy_until = time.time()
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


@signals.celeryd_init.connect
def _confine_jobs(**_) -> None:
    """A `celery worker` started without AURALITH_ALLOWED_ROOTS confines jobs to its working directory and the
    temp folder, before it forks its pool (the embedded worker of `auralith run` sends no celeryd_init)."""
    if (line := confine_server()) is not None:
        _pending_notes.append(line)


_pending_notes: list[str] = []


@signals.celeryd_after_setup.connect
def _say_where_jobs_may_go(**_) -> None:
    # After logging is set up: at celeryd_init a warning would go to no handler of the worker's.
    while _pending_notes:
        log.warning(_pending_notes.pop(0))
