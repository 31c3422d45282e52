"""Real services: Redis as broker and PostgreSQL as store, with one in-process Celery worker per session.

Locally a missing service skips these tests; under CI=true it fails them, so CI never passes by skipping.

The tests delete only what they created. They take two Redis databases that must be empty when the session
starts (or hold only what an earlier test session left, marked as such) and empty them again at the end; a
database holding anything else stops the session with a message naming the variable that picks another one.
In PostgreSQL they create one database of their own, `auralith_it_<random>`, and drop it at the end.

    AURALITH_TEST_REDIS                 redis://127.0.0.1:6379; a db in the URL (…/3) sets AURALITH_TEST_REDIS_DB
    AURALITH_TEST_REDIS_DB              15: the in-process worker's broker
    AURALITH_TEST_SUBPROCESS_REDIS_DB   the one below it (14): worker processes that tests start
    AURALITH_TEST_PG                    postgresql+psycopg://postgres@127.0.0.1:5432; the database connected to
                                        to create the session's own is the URL's, else `test`
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import create_engine, text

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Marks a Redis database as this test suite's: one holding it and nothing of a live session is ours to empty.
MARKER = "auralith:test-session"


def redis_settings(env=os.environ) -> tuple[str, int, int]:
    """(server URL without a database, the in-process worker's db, the db of worker processes tests start)."""
    parts = urlsplit(env.get("AURALITH_TEST_REDIS") or "redis://127.0.0.1:6379")
    in_url = parts.path.strip("/")
    session = int(env.get("AURALITH_TEST_REDIS_DB") or in_url or 15)
    default_sub = session - 1 if session > 0 else session + 1
    subprocess_db = int(env.get("AURALITH_TEST_SUBPROCESS_REDIS_DB") or default_sub)
    if subprocess_db == session:
        raise ValueError(f"AURALITH_TEST_REDIS_DB and AURALITH_TEST_SUBPROCESS_REDIS_DB are both {session}")
    return f"{parts.scheme}://{parts.netloc}", session, subprocess_db


def pg_settings(env=os.environ) -> tuple[str, str]:
    """(server URL without a database, the database to connect to for CREATE DATABASE)."""
    parts = urlsplit(env.get("AURALITH_TEST_PG") or "postgresql+psycopg://postgres@127.0.0.1:5432")
    return f"{parts.scheme}://{parts.netloc}", parts.path.strip("/") or "test"


REDIS_URL, SESSION_REDIS_DB, SUBPROCESS_REDIS_DB = redis_settings()
PG_URL, PG_ADMIN_DB = pg_settings()
_OWNER = f"{socket.gethostname()}:{os.getpid()}"
_claimed: set[int] = set()


def redis_url(db: int) -> str:
    """The URL of one of the session's Redis databases (SESSION_REDIS_DB, SUBPROCESS_REDIS_DB)."""
    return f"{REDIS_URL}/{db}"


def _unavailable(service: str, exc: Exception):
    message = f"{service} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration tests must not skip)", pytrace=False)
    pytest.skip(message)


def _live_owner(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's session: it cannot be checked, so it counts as running
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def claim_redis_db(db: int, variable: str) -> None:
    """Make `db` this session's, or stop: it must be empty, or hold only what a finished test session left."""
    conn = redis.Redis.from_url(redis_url(db))
    keys = conn.dbsize()
    owner = (conn.get(MARKER) or b"").decode()
    if keys and not owner:
        pytest.fail(
            f"Redis db {db} at {REDIS_URL} holds {keys} key{'' if keys == 1 else 's'} that the tests did not "
            f"create, and the tests empty the databases they use: set {variable} to the number of an empty database "
            "(see README, Tests)",
            pytrace=False,
        )
    if owner and owner != _OWNER and _live_owner(owner):
        pytest.fail(
            f"Redis db {db} at {REDIS_URL} is in use by another test session ({owner}): set {variable} to "
            "the number of an empty database (see README, Tests)",
            pytrace=False,
        )
    conn.flushdb()  # empty, or the leftovers of a test session that ended without cleaning up
    conn.set(MARKER, _OWNER)
    _claimed.add(db)


def flush_redis(db: int) -> None:
    """Empty one of the session's Redis databases (it stays the session's)."""
    if db not in _claimed:
        raise RuntimeError(f"Redis db {db} is not this test session's (request the redis_base fixture)")
    conn = redis.Redis.from_url(redis_url(db))
    conn.flushdb()
    conn.set(MARKER, _OWNER)


@pytest.fixture(scope="session")
def redis_base() -> str:
    """The Redis server's URL without a database; SESSION_REDIS_DB and SUBPROCESS_REDIS_DB are the session's."""
    try:
        redis.Redis.from_url(redis_url(SESSION_REDIS_DB), socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    claim_redis_db(SESSION_REDIS_DB, "AURALITH_TEST_REDIS_DB")
    claim_redis_db(SUBPROCESS_REDIS_DB, "AURALITH_TEST_SUBPROCESS_REDIS_DB")
    yield REDIS_URL
    for db in sorted(_claimed):
        conn = redis.Redis.from_url(redis_url(db))
        if (conn.get(MARKER) or b"").decode() == _OWNER:
            conn.flushdb()  # as it was found: empty
        _claimed.discard(db)


@pytest.fixture(scope="session")
def pg_store() -> str:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin_url = f"{PG_URL}/{PG_ADMIN_DB}"
    name = f"auralith_it_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    yield f"{PG_URL}/{name}"
    from auralith.store.db import dispose_all

    dispose_all()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def celery_worker(redis_base, pg_store):
    """One in-process worker (threads) on Redis + PostgreSQL, consuming every queue."""
    from celery.contrib.testing.worker import start_worker

    from auralith.store import migrate
    from auralith.worker.app import app, configure
    from auralith.worker.settings import QUEUES

    flush_redis(SESSION_REDIS_DB)
    broker = redis_url(SESSION_REDIS_DB)
    configure(broker, pg_store)
    migrate.upgrade(pg_store)
    # As on a machine where AURALITH_* point at the cluster: a Client() or CLI command in a test talks to this
    # worker's broker and store unless told otherwise.
    saved = {k: os.environ.get(k) for k in ("AURALITH_BROKER_URL", "AURALITH_STORE_URL")}
    os.environ.update(AURALITH_BROKER_URL=broker, AURALITH_STORE_URL=pg_store)
    try:
        with start_worker(
            app,
            pool="threads",
            concurrency=2,
            perform_ping_check=False,
            queues=list(QUEUES),
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    flush_redis(SESSION_REDIS_DB)


@pytest.fixture()
def client(celery_worker):
    """A Client of the in-process worker's broker and store."""
    from auralith.client import Client

    return Client(celery_worker.app.conf.broker_url, celery_worker.app.conf.auralith_store_url)
