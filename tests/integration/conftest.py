"""Real services: Redis as broker and PostgreSQL as store, with one in-process Celery worker per session.

Locally a missing service skips these tests; under CI=true it fails them, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

REDIS_URL = os.environ.get("AURALITH_TEST_REDIS", "redis://127.0.0.1:6379")
PG_URL = os.environ.get("AURALITH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Two Redis databases per test run; env overrides let parallel checkouts on one machine stay apart.
SESSION_REDIS_DB = int(os.environ.get("AURALITH_TEST_REDIS_DB", "15"))  # the in-process worker's broker
SUBPROCESS_REDIS_DB = int(os.environ.get("AURALITH_TEST_SUBPROCESS_REDIS_DB", "14"))  # tests' own worker processes


def _unavailable(service: str, exc: Exception):
    message = f"{service} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration tests must not skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_base() -> str:
    try:
        redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    return REDIS_URL


def flush_redis(db: int) -> None:
    redis.Redis.from_url(f"{REDIS_URL}/{db}").flushdb()


@pytest.fixture(scope="session")
def pg_store() -> str:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin_url = f"{PG_URL}/test"
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
    broker = f"{redis_base}/{SESSION_REDIS_DB}"
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
