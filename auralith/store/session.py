"""What every part of the store shares: its URL and sessions on this process's engine for it."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from auralith.store.db import normalize_store_url, session_scope


class SessionOwner:
    def __init__(self, url: str):
        self.url = normalize_store_url(url)

    def session(self) -> AbstractContextManager[Session]:
        """A session that commits on success and rolls back on error."""
        return session_scope(self.url)

    def __repr__(self) -> str:
        from auralith.redact import redact_url

        return f"{type(self).__name__}({redact_url(self.url)!r})"
