"""What every command family shares: the consoles, one-line errors, `--broker/--store`, the Client, the error
boundary."""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

import click
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from auralith.errors import AuralithError

if TYPE_CHECKING:
    from auralith.client import Client

# Wide enough that no line or table of ours folds; rich pads nothing to the width, so it costs nothing.
UNWRAPPED_WIDTH = 10_000


class CliConsole(Console):
    """A rich Console that wraps at the terminal's width, and not at all into a pipe or a file: a log line stays
    one line, a table column is never cut to `succ…`. COLUMNS, where set, still decides."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNWRAPPED_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = CliConsole()
err_console = CliConsole(stderr=True)

STORE_HELP = "SQL store URL (AURALITH_STORE_URL); default postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKER_HELP = "Broker URL (AURALITH_BROKER_URL); default redis://127.0.0.1:6379/0"
STATE_DIR_HELP = "Read the embedded store that `auralith run` or `train` keeps in this folder (e.g. .auralith)."


def print_error(message: object, label: str = "error", stream: Console | None = None) -> None:
    """One red-labelled line; the message is escaped, so paths like `[/data/x]` are not read as markup."""
    (stream or err_console).print(f"[red]{label}:[/red] {escape(str(message))}", highlight=False)


def _override(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().obj[param.name] = value
        ctx.find_root().obj["explicit"][param.name] = value


def service_options(fn=None, *, store_help: str = STORE_HELP, broker_help: str = BROKER_HELP):
    """`--broker`/`--store` after the subcommand too (`auralith submit X --broker ...`)."""

    def add(fn):
        fn = click.option("--store", expose_value=False, callback=_override, help=store_help)(fn)
        return click.option("--broker", expose_value=False, callback=_override, help=broker_help)(fn)

    return add(fn) if fn is not None else add


def _state_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_root().obj["state_dir"] = value


def store_options(fn):
    """`--broker`/`--store`, and `--state-dir` for the embedded store of `auralith run`: every command that reads
    the store takes them the same way."""
    fn = click.option(
        "--state-dir",
        default=None,
        expose_value=False,
        callback=_state_dir,
        type=click.Path(file_okay=False),
        help=STATE_DIR_HELP,
    )(fn)
    return service_options(fn)


def client_for(ctx: click.Context) -> Client:
    """The Client on the broker and store the command line (or AURALITH_* variables) named, or on the embedded
    store of `--state-dir`."""
    from auralith.client import Client  # Celery and SQLAlchemy load only for commands that talk to services

    obj = ctx.find_root().obj
    if obj.get("state_dir") is not None:
        from auralith.embedded import state_dir_client

        if "store" in obj["explicit"]:
            raise AuralithError("give either --store or --state-dir, not both")
        return state_dir_client(obj["state_dir"])
    return Client(obj["broker"], obj["store"])


def check_job_inputs(cfg) -> None:
    """What a job's workers would fail on first, checked on this machine: every source pattern matches a
    readable file, the tokenizer loads (ConfigError, InputError or TokenizerNotFound otherwise)."""
    from auralith.pipeline.plan import list_source_files
    from auralith.steps.tokenize import check_tokenizer

    problems: list[AuralithError] = []
    for check in (lambda: list_source_files(cfg), lambda: check_tokenizer(cfg.tokenization)):
        try:
            check()
        except AuralithError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:  # both at once, not one per try
        raise AuralithError("\n".join(str(p) for p in problems))


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
