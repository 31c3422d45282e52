"""One holder at a time, across machines: a PostgreSQL session-level advisory lock on a connection kept open.

The supervisor takes it before each round (auralith.worker.supervisor): of several `celery beat` processes one
heals and the others stand by; when the holder dies its connection closes, the lock is released, and the next
one to ask takes over. SQLite (the embedded mode, one process) needs no lock.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import text
from sqlalchemy.engine import Connection

from auralith.errors import one_line
from auralith.store.db import get_engine, normalize_store_url

log = logging.getLogger(__name__)


class LeaderLock:
    def __init__(self, url: str, name: str):
        self.url = normalize_store_url(url)
        self.name = name
        # Advisory locks are keyed by a bigint: a stable hash of the name (crc32, not hash(), which is salted).
        self.key = zlib.crc32(name.encode())
        self._conn: Connection | None = None

    @property
    def shared(self) -> bool:
        return not self.url.startswith("postgresql")

    def held(self) -> bool:
        """Whether this process holds the lock now, taking it if free. Never raises: an unreachable database
        means not held (and the connection is dropped, so the next call starts afresh)."""
        if self.shared:
            return True
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))  # still ours while this connection lives
                return True
            conn = get_engine(self.url).connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            conn.commit()
            if got:
                self._conn = conn
                log.info("%s: this process holds the lock now", self.name)
                return True
            conn.close()
            return False
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: lost the database (%s)", self.name, one_line(exc))
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # closing the session releases the lock, even when the socket is gone
                conn.close()
            except Exception:  # noqa: BLE001  already broken
                pass
