"""Run a whole job on this machine with no servers: a SQLite broker and store, a worker in a thread."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auralith.app import app, configure
from auralith.settings import QUEUES
from auralith.store import migrate


def embedded_urls(state_dir: Path) -> tuple[str, str]:
    """(broker, store) URLs under `state_dir`. The broker gets its own file so queue polling and the
    store's writes do not contend for one SQLite lock."""
    state_dir = state_dir.resolve()
    return f"sqla+sqlite:///{state_dir / 'broker.db'}", f"sqlite:///{state_dir / 'auralith.db'}"


@contextmanager
def embedded_worker(state_dir: Path, concurrency: int = 2, broker: str | None = None,
                    store: str | None = None, loglevel: str = "WARNING") -> Iterator[str]:
    """Start an in-process worker consuming every queue; yields the store URL.

    Chords complete through the database result backend, which polls (`result_chord_retry_interval`).
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
    with start_worker(app, pool="threads", concurrency=concurrency, perform_ping_check=False,
                      loglevel=loglevel, queues=list(QUEUES), shutdown_timeout=60):
        yield store
