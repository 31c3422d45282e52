"""Engines and sessions: one engine per store URL per process (forked workers must not share sockets)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from auralith.errors import StoreNotReady
from auralith.redact import redact_url

_engines: dict[tuple[str, int], tuple[Engine, sessionmaker]] = {}
_lock = threading.Lock()


def normalize_store_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver we install); SQLite folders are created."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        db = make_url(url).database
        if db and db != ":memory:":
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers (the progress view) run beside the one writer; the busy timeout makes concurrent
    # writers from worker threads wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def get_engine(url: str) -> Engine:
    return engine_and_sessionmaker(url)[0]


def engine_and_sessionmaker(url: str) -> tuple[Engine, sessionmaker]:
    """This process's engine for `url` and its session factory (created on first use)."""
    url = normalize_store_url(url)
    key = (url, os.getpid())
    with _lock:
        if key not in _engines:
            if url.startswith("sqlite"):
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            _engines[key] = (engine, sessionmaker(engine, expire_on_commit=False))
        return _engines[key]


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = engine_and_sessionmaker(url)[1]
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def check_ready(url: str) -> None:
    """Raise StoreNotReady with a clear message when the store is unreachable or not migrated."""
    try:
        names = inspect(get_engine(url)).get_table_names()
    except OperationalError as exc:
        raise StoreNotReady(f"cannot reach the store at {redact_url(url)}: {exc.orig}") from None
    if "auralith_jobs" not in names:
        raise StoreNotReady(f"the store at {redact_url(url)} has no Auralith tables: run `auralith db upgrade`")


def dispose_all() -> None:
    with _lock:
        for engine, _ in _engines.values():
            engine.dispose()
        _engines.clear()
