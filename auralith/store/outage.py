"""Writes that must outlive a database outage: a task's commit and its chord count, retried in place with the
backoff Celery uses to store results (`result_backend_*` settings), rather than failing a finished unit."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from auralith.errors import one_line

log = logging.getLogger(__name__)
T = TypeVar("T")

# The database went away (restart, network cut, pool exhausted), as opposed to a constraint or a bad query.
OUTAGE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


def through_outage(
    fn: Callable[[], T], what: str, *, max_retries: float = 40, base_ms: float = 10, max_ms: float = 10_000
) -> T:
    """`fn()`, retried on an outage with full-jitter exponential backoff (`base_ms` doubling up to `max_ms`),
    at most `max_retries` times (Celery's default is infinity); `fn` must be safe to run again. One log line
    per outage."""
    attempt = 0
    while True:
        try:
            result = fn()
        except OUTAGE_ERRORS as exc:
            if attempt >= max_retries:
                raise
            if attempt == 0:
                log.warning("%s: the database is unreachable (%s); retrying", what, one_line(exc))
            time.sleep(random.uniform(0, min(max_ms, base_ms * 2 ** min(attempt, 30))) / 1000)
            attempt += 1
        else:
            if attempt:
                log.warning("%s: written after %d retries", what, attempt)
            return result
