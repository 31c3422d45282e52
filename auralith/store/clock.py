"""The database's clock, as SQL: every time the supervisor compares (heartbeats, claims, commits, sends) is
written with it, so that the clocks of the machines involved do not matter.

Not `now()`: PostgreSQL's is the start of the transaction, which for a claim that waited on a lock can be
earlier than the commit it waited for. SQLite's CURRENT_TIMESTAMP has whole seconds only.
"""

from __future__ import annotations

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from auralith.store.models import UTCDateTime


class db_clock(GenericFunction):  # noqa: N801  (used like a SQL function)
    type = UTCDateTime()
    inherit_cache = True


@compiles(db_clock)
def _default(element, compiler, **kw) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_clock, "postgresql")
def _postgresql(element, compiler, **kw) -> str:
    return "clock_timestamp()"


@compiles(db_clock, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"
