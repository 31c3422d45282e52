"""Run a whole job on this machine with no servers: a SQLite broker and store, a worker in a thread."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auralith.store import migrate
from auralith.worker.app import app, configure
from auralith.worker.settings import QUEUES
from auralith.worker.supervisor import SupervisorThread


def embedded_urls(state_dir: Path) -> tuple[str, str]:
    """(broker, store) URLs under `state_dir`. The broker gets its own file so queue polling and the
    store's writes do not contend for one SQLite lock."""
    state_dir = state_dir.resolve()
    return f"sqla+sqlite:///{state_dir / 'broker.db'}", f"sqlite:///{state_dir / 'auralith.db'}"


@contextmanager
def embedded_worker(
    state_dir: Path,
    concurrency: int = 2,
    broker: str | None = None,
    store: str | None = None,
    loglevel: str = "WARNING",
) -> Iterator[tuple[str, str]]:
    """Start an in-process worker consuming every queue; yields its (broker, store) URLs.

    Chords complete by counting in the SQLite store (auralith.worker.chords), as on a cluster.
    """
    from celery.contrib.testing.worker import start_worker
    from kombu.transport import sqlalchemy as kombu_sqla

    state_dir.mkdir(parents=True, exist_ok=True)
    default_broker, default_store = embedded_urls(state_dir)
    broker, store = broker or default_broker, store or default_store
    configure(broker, store)
    # kombu's SQLite transport polls its message table; its default of 1 s per poll dominates small jobs.
    kombu_sqla.Transport.polling_interval = 0.1
    migrate.upgrade(store)
    logging.getLogger("celery").setLevel(loglevel)
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel=loglevel,
        queues=list(QUEUES),
        shutdown_timeout=60,
    ):
        # The supervisor in-process, as `celery beat` runs it on a cluster: chord bodies and messages this
        # at-most-once broker loses are sent again.
        supervisor = SupervisorThread(app)
        supervisor.start()
        try:
            yield broker, store
        finally:
            supervisor.stop()
            _stop_promptly()


@app.task(name="auralith.wake_embedded_worker", ignore_result=True)
def wake_embedded_worker() -> None:
    """A no-op whose message ends the worker loop's current broker poll."""


def _stop_promptly() -> None:
    # Told to stop, the worker's loop still finishes its current 2 s broker poll and then runs one more
    # round; a message for each of the two rounds ends them at once (~4 s down to milliseconds).
    from celery.worker import state

    state.should_terminate = 0
    try:
        for _ in range(2):
            wake_embedded_worker.apply_async(queue="default")
    except Exception:  # the broker is gone: the worker stops at its next poll anyway
        pass
