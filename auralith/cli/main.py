"""The `auralith` command line: run a job locally, or submit, watch and control jobs on a cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape

from auralith.errors import AuralithError

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


def _client(ctx: click.Context):
    from auralith.client import Client

    return Client(ctx.obj["broker"], ctx.obj["store"])


class AuralithGroup(click.Group):
    """Turns Auralith's own errors and unreachable services into one line and exit code 1."""

    def invoke(self, ctx: click.Context):
        from kombu.exceptions import OperationalError as BrokerDown
        from sqlalchemy.exc import OperationalError as StoreDown
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except AuralithError as exc:
            print_error(exc)
        except StoreDown as exc:
            print_error(f"cannot reach the SQL store: {exc.orig}")
        except BrokerDown as exc:
            print_error(f"cannot reach the broker: {exc}")
        except TimeoutError as exc:
            print_error(exc)
        except SQLAlchemyError as exc:
            print_error(f"the SQL store failed: {exc}")
        if ctx.obj and ctx.obj.get("verbose"):
            raise
        sys.exit(1)


@click.group(cls=AuralithGroup)
@click.option("--broker", envvar="AURALITH_BROKER_URL", help=BROKER_HELP)
@click.option("--store", envvar="AURALITH_STORE_URL", help=STORE_HELP)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and worker logs.")
@click.version_option(package_name="auralith")
@click.pass_context
def main(ctx: click.Context, broker: str | None, store: str | None, verbose: bool) -> None:
    """Auralith: clean, deduplicate and tokenize text into safetensors shards, on Celery."""
    # `run` is embedded unless --broker/--store are given on the command line; AURALITH_* variables
    # configure the server-side commands only.
    explicit = {name: value for name, value in (("broker", broker), ("store", store))
                if value and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    ctx.obj = {"broker": broker, "store": store, "verbose": verbose, "explicit": explicit}


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--workers", default=2, show_default=True, help="Worker threads of the in-process worker.")
@click.option("--state-dir", default=".auralith", show_default=True, type=click.Path(file_okay=False),
              help="Where the embedded SQLite broker and store live.")
@click.option("--resume", "resume_id", default=None, metavar="JOB",
              help="Finish an interrupted job of this store (it runs its stored config) instead of starting "
                   "a new one.")
@click.option("--json", "as_json", is_flag=True, help="Print the final job as JSON instead of tables.")
@service_options
@click.pass_context
def run(ctx: click.Context, config: str, workers: int, state_dir: str, resume_id: str | None,
        as_json: bool) -> None:
    """Run a whole job here, with no servers: SQLite broker and store, an in-process worker."""
    from auralith.config import load_config
    from auralith.pipeline.plan import list_source_files
    from auralith.steps.tokenize import check_tokenizer

    cfg = load_config(config)
    # Config, input and tokenizer errors surface before any worker starts (the worker is on this machine).
    list_source_files(cfg)
    check_tokenizer(cfg.tokenization)
    # Task failures reach the user as the job's error; worker tracebacks only with --verbose.
    loglevel = "INFO" if ctx.obj["verbose"] else "CRITICAL"
    explicit = ctx.obj["explicit"]
    try:
        _run_embedded(cfg, config, workers, Path(state_dir), explicit, resume_id, as_json, loglevel)
    except RuntimeError as exc:  # the in-process worker did not stop in time: a partition still running
        print_error(exc)
        sys.exit(1)


def _run_embedded(cfg, config: str, workers: int, state_dir: Path, explicit: dict, resume_id: str | None,
                  as_json: bool, loglevel: str) -> None:
    from auralith.cli.progress import summary_table, watch_job
    from auralith.client import Client
    from auralith.worker.embedded import embedded_worker

    with embedded_worker(state_dir, workers, explicit.get("broker"), explicit.get("store"), loglevel=loglevel) as urls:
        client = Client(*urls)
        job_id = client.resume(resume_id) if resume_id else client.submit(cfg)
        try:
            if not as_json:
                verb = "resumed" if resume_id else "running"
                name = client.get_job(job_id, with_stats=False).name
                console.print(f"job [bold]{job_id}[/bold] ({escape(name)}) {verb} with {workers} worker threads")
                info = watch_job(client, job_id, console)
            else:
                info = client.wait(job_id)
        except KeyboardInterrupt:
            client.cancel(job_id)
            err_console.print(f"interrupted: job {job_id} cancelled, its committed partitions kept; finish it "
                              f"with: auralith run {config} --resume {job_id}", highlight=False, soft_wrap=True,
                              markup=False)
            sys.exit(130)
        # Printed before the worker stops, so the user sees the result even if the shutdown takes a moment.
        _print_final(info, as_json, summary_table)


def _print_issues(stats) -> None:
    from auralith.cli.progress import issue_lines

    lines = issue_lines(stats)
    if lines:
        console.print(f"[bold]input issues ({stats.issue_count})[/bold]")
        for line in lines:
            console.print(line, soft_wrap=True, highlight=False, markup=False)


def _print_final(info, as_json: bool, summary_table) -> None:
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        console.print(summary_table(info))
        _print_issues(info.stats)
        if info.error:
            print_error(info.error, label="job failed")
    if info.state != "succeeded":
        sys.exit(1)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--priority", type=click.Choice(["low", "normal", "high", "critical"]), default=None)
@click.option("--watch", "then_watch", is_flag=True, help="Watch the job after submitting it.")
@service_options
@click.pass_context
def submit(ctx: click.Context, config: str, priority: str | None, then_watch: bool) -> None:
    """Submit a job to the workers and print its id."""
    client = _client(ctx)
    job_id = client.submit(config, priority=priority)
    click.echo(job_id)
    if then_watch:
        ctx.invoke(watch, job_id=job_id)


@main.command()
@click.argument("job_id")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds.")
@service_options
@click.pass_context
def watch(ctx: click.Context, job_id: str, timeout: float | None) -> None:
    """Show live progress per stage until the job ends."""
    from auralith.cli.progress import summary_table, watch_job

    info = watch_job(_client(ctx), job_id, console, timeout=timeout)
    _print_final(info, False, summary_table)


@main.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@service_options
@click.pass_context
def status(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """State, partitions per stage, documents and tokens so far, removals and input issues."""
    from auralith.cli.ops import print_stuck
    from auralith.cli.progress import removals_table, stages_table, summary_table
    from auralith.redact import redact

    client = _client(ctx)
    info = client.get_job(job_id)
    stuck = client.stuck_partitions(info.id) if info.state == "running" else []
    if as_json:
        click.echo(json.dumps(redact({**info.to_dict(), "stuck": stuck}), indent=2))
        return
    console.print(summary_table(info, removal_rows=False))
    console.print(removals_table(info.stats))
    console.print(stages_table(info.stats))
    _print_issues(info.stats)
    print_stuck(stuck, info.id)
    if info.error:
        print_error(redact(info.error), stream=console)


@main.command()
@click.option("--state", default=None, help="Only jobs in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@service_options
@click.pass_context
def jobs(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    from rich.table import Table

    found = _client(ctx).list_jobs(limit, state)
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in found], indent=2))
        return
    table = Table(header_style="bold")
    table.add_column("id", no_wrap=True, min_width=36)
    for col in ("name", "state", "priority", "created", "output"):
        table.add_column(col)
    for j in found:
        table.add_row(j.id, j.name, j.state, j.priority, j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      j.output or "")
    console.print(table)


@main.command()
@click.argument("job_id")
@click.option("--terminate", is_flag=True, help="Also SIGTERM the pool processes running its tasks (prefork).")
@service_options
@click.pass_context
def cancel(ctx: click.Context, job_id: str, terminate: bool) -> None:
    """Revoke a job's queued tasks and mark it cancelled; committed outputs stay, `resume` goes on."""
    client = _client(ctx)
    job_id = client.get_job(job_id, with_stats=False).id
    n = client.cancel(job_id, terminate=terminate)
    click.echo(f"cancelled {job_id} ({n} tasks revoked)")


@main.command()
@click.argument("job_id")
@click.option("--watch", "then_watch", is_flag=True, help="Watch the job after resuming it.")
@service_options
@click.pass_context
def resume(ctx: click.Context, job_id: str, then_watch: bool) -> None:
    """Re-enqueue everything of a job that is not committed."""
    job_id = _client(ctx).resume(job_id)
    click.echo(f"resumed {job_id}")
    if then_watch:
        ctx.invoke(watch, job_id=job_id)


@main.command()
@click.argument("job_id")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
@service_options
@click.pass_context
def logs(ctx: click.Context, job_id: str, limit: int) -> None:
    """The job's events: planned, resumed, failed, succeeded."""
    from auralith.redact import redact_text

    for time, level, message in _client(ctx).events(job_id, limit):
        click.echo(f"{time:%Y-%m-%d %H:%M:%S} {level:<7} {redact_text(message)}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check a job config and print it with every default filled in."""
    import yaml

    from auralith.config import load_config

    cfg = load_config(config)
    click.echo(yaml.safe_dump(cfg.model_dump(mode="json", exclude={"base_dir"}), sort_keys=False))


@main.group()
def db() -> None:
    """The SQL store's schema."""


@db.command("upgrade")
@service_options
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate Auralith's tables to the newest schema."""
    from auralith.redact import redact_url
    from auralith.store import migrate

    store = _client(ctx).store
    applied = store.upgrade()
    click.echo(f"{redact_url(store.url)}: {'migrated to' if applied else 'already at'} {migrate.head_revision()}")


@main.group()
def tokenizer() -> None:
    """Tokenizers that work offline."""


@tokenizer.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--vocab-size", default=8192, show_default=True, type=click.IntRange(min=260))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write tokenizer.json.")
@click.option("--max-mb", default=200.0, show_default=True, help="Train on at most this much text.")
def tokenizer_train(config: str, vocab_size: int, out: str, max_mb: float) -> None:
    """Train a byte-level BPE tokenizer on the job's sources (normalised as the job would)."""
    from auralith.config import load_config
    from auralith.pipeline.source_text import iter_source_texts
    from auralith.steps.tokenize import train_bpe_tokenizer
    from auralith.storage.local import write_bytes_atomic

    cfg = load_config(config)
    seen = {"docs": 0}

    def texts():
        for text in iter_source_texts(cfg, max_bytes=int(max_mb * 2**20)):
            seen["docs"] += 1
            yield text

    with console.status("training tokenizer..."):
        tok = train_bpe_tokenizer(texts(), vocab_size)
    write_bytes_atomic(out, tok.to_str().encode())
    click.echo(f"wrote {out}: vocab {tok.get_vocab_size()} trained on {seen['docs']} documents")


from auralith.cli.dedup_report import dedup_report_command  # noqa: E402  (it imports this module's helpers)

main.add_command(dedup_report_command)
from auralith.cli.ops import metrics, queues, workers  # noqa: E402 (commands defined after main)

main.add_command(queues)
main.add_command(workers)
main.add_command(metrics)
from auralith.cli.report import report  # noqa: E402  (registered last: it imports this module's helpers)

main.add_command(report)
from auralith.cli.train import train as train_command  # noqa: E402  (it imports helpers from this module)

main.add_command(train_command)

if __name__ == "__main__":  # pragma: no cover
    main()
