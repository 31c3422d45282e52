"""The test session's own services: which Redis databases it takes, and that it never empties someone else's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import redis

from tests.integration.conftest import (
    MARKER,
    SUBPROCESS_REDIS_DB,
    claim_redis_db,
    flush_redis,
    pg_settings,
    redis_settings,
    redis_url,
)


def test_which_redis_databases_and_postgres_server():
    assert redis_settings({}) == ("redis://127.0.0.1:6379", 15, 14)
    # A URL with a database picks the session's database; the subprocess one is the next one down.
    assert redis_settings({"AURALITH_TEST_REDIS": "redis://h:7000/3"}) == ("redis://h:7000", 3, 2)
    assert redis_settings({"AURALITH_TEST_REDIS": "redis://h:7000/0"}) == ("redis://h:7000", 0, 1)
    env = {
        "AURALITH_TEST_REDIS": "redis://h/3",
        "AURALITH_TEST_REDIS_DB": "10",
        "AURALITH_TEST_SUBPROCESS_REDIS_DB": "11",
    }
    assert redis_settings(env) == ("redis://h", 10, 11)
    with pytest.raises(ValueError, match="both 4"):
        redis_settings({"AURALITH_TEST_REDIS_DB": "4", "AURALITH_TEST_SUBPROCESS_REDIS_DB": "4"})
    assert pg_settings({}) == ("postgresql+psycopg://postgres@127.0.0.1:5432", "test")
    assert pg_settings({"AURALITH_TEST_PG": "postgresql://u@db:5433/admin"}) == ("postgresql://u@db:5433", "admin")


def _refusal(db: int) -> str:
    with pytest.raises(pytest.fail.Exception) as refused:
        claim_redis_db(db, "AURALITH_TEST_SUBPROCESS_REDIS_DB")
    return str(refused.value)


def test_a_database_with_data_the_tests_did_not_create_is_refused_and_kept(redis_base):
    conn = redis.Redis.from_url(redis_url(SUBPROCESS_REDIS_DB))
    flush_redis(SUBPROCESS_REDIS_DB)
    try:
        conn.delete(MARKER)
        conn.set("someone:else", "precious")
        message = _refusal(SUBPROCESS_REDIS_DB)
        assert "holds 1 key that the tests did not create" in message
        assert "set AURALITH_TEST_SUBPROCESS_REDIS_DB" in message
        assert conn.get("someone:else") == b"precious"

        # Marked by a test session that is still running (here: pytest's parent process) is refused too.
        conn.set(MARKER, f"{socket.gethostname()}:{os.getppid()}")
        assert "in use by another test session" in _refusal(SUBPROCESS_REDIS_DB)
        assert conn.get("someone:else") == b"precious"

        # The leftovers of a test session that died are the tests' own: emptied and taken over.
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        conn.set(MARKER, f"{socket.gethostname()}:{gone.stdout.strip()}")
        claim_redis_db(SUBPROCESS_REDIS_DB, "AURALITH_TEST_SUBPROCESS_REDIS_DB")
        assert conn.get("someone:else") is None
    finally:
        flush_redis(SUBPROCESS_REDIS_DB)
    assert conn.dbsize() == 1 and conn.get(MARKER)
