"""What every command family shares: the consoles, one-line errors, `--broker/--store`, the Client, the error
boundary."""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from auralith.errors import AuralithError

if TYPE_CHECKING:
    from auralith.client import Client

console = Console()
err_console = Console(stderr=True)

STORE_HELP = "SQL store URL (AURALITH_STORE_URL); default postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKER_HELP = "Broker URL (AURALITH_BROKER_URL); default redis://127.0.0.1:6379/0"


def print_error(message: object, label: str = "error", stream: Console | None = None) -> None:
    """One red-labelled line; the message is escaped, so paths like `[/data/x]` are not read as markup."""
    (stream or err_console).print(f"[red]{label}:[/red] {escape(str(message))}", highlight=False)


def _override(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().obj[param.name] = value
        ctx.find_root().obj["explicit"][param.name] = value


def service_options(fn):
    """`--broker`/`--store` after the subcommand too (`auralith submit X --broker ...`)."""
    fn = click.option("--store", expose_value=False, callback=_override, help=STORE_HELP)(fn)
    return click.option("--broker", expose_value=False, callback=_override, help=BROKER_HELP)(fn)


def client_for(ctx: click.Context) -> Client:
    """The Client on the broker and store the command line (or AURALITH_* variables) named."""
    from auralith.client import Client  # Celery and SQLAlchemy load only for commands that talk to services

    obj = ctx.find_root().obj
    return Client(obj["broker"], obj["store"])


def explicit_services(ctx: click.Context) -> dict[str, str]:
    """`broker`/`store` given on the command line, not through AURALITH_* variables (those configure servers)."""
    return dict(ctx.find_root().obj["explicit"])


def verbose(ctx: click.Context) -> bool:
    return bool(ctx.find_root().obj and ctx.find_root().obj.get("verbose"))


def _one_line(exc: BaseException) -> str | None:
    """The line a user sees for an error that is theirs or their services' (None: a bug, keep its traceback)."""
    from sqlalchemy.exc import OperationalError as StoreDown
    from sqlalchemy.exc import SQLAlchemyError

    from auralith.worker.app import BrokerUnreachable as BrokerDown

    if isinstance(exc, (AuralithError, TimeoutError)):
        return str(exc)
    if isinstance(exc, StoreDown):
        return f"cannot reach the SQL store: {exc.orig}"
    if isinstance(exc, BrokerDown):
        return f"cannot reach the broker: {exc}"
    if isinstance(exc, SQLAlchemyError):
        return f"the SQL store failed: {exc}"
    return None


class AuralithGroup(click.Group):
    """Turns Auralith's own errors and unreachable services into one red line and exit code 1
    (with --verbose, their traceback first)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            line = _one_line(exc)
            if line is None:
                raise
            if verbose(ctx):
                traceback.print_exception(exc, file=sys.stderr)
            print_error(line)
            sys.exit(1)
