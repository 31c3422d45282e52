"""Run Alembic migrations programmatically (`auralith db upgrade`, and `run`/`submit` when needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError

from auralith.errors import StoreNotReady
from auralith.redact import redact_url
from auralith.store.db import get_engine

_SCRIPTS = Path(__file__).with_name("alembic")


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["store_url"] = url
    return cfg


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config("")).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def upgrade(url: str) -> bool:
    """Bring the store to the newest schema; True if anything was applied."""
    try:
        if current_revision(url) == head_revision():
            return False
        command.upgrade(_config(url), "head")
    except OperationalError as exc:
        raise StoreNotReady(f"cannot reach the store at {redact_url(url)}: {exc.orig}") from None
    return True
