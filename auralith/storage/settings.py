"""The storage settings of what this thread does next (a context variable set by each task)."""

from __future__ import annotations

from contextvars import ContextVar

from auralith.config.storage import S3Settings, StorageConfig

# Per thread of execution: a threads-pool worker runs tasks of different jobs side by side, and each task
# sets its job's settings before it touches storage.
_current: ContextVar[StorageConfig | None] = ContextVar("auralith_storage", default=None)


def use_storage_config(cfg: StorageConfig | None) -> None:
    """Make `cfg` the storage settings of what this thread (or asyncio task) does next."""
    _current.set(cfg or StorageConfig())


def current_s3_settings() -> S3Settings:
    return (_current.get() or StorageConfig()).s3.effective()
