"""`auralith queues`, `auralith workers`, `auralith metrics serve`: the cluster as operators see it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import click
from rich.markup import escape
from rich.table import Table

from auralith.cli.common import client_for, console, store_options
from auralith.observe.workers import ALIVE, DEAD, NO_HEARTBEAT, WorkerInfo
from auralith.redact import redact


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@store_options
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> None:
    """Messages waiting in each queue (per priority band on Redis)."""
    found = client_for(ctx).queue_depths()
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    table = Table(header_style="bold")
    for col in ("queue", "messages", "by priority (0 first)"):
        table.add_column(col, justify="right" if col == "messages" else "left")
    for q in found.queues:
        table.add_row(q.name, f"{q.messages:,}", "  ".join(f"{p}:{n}" for p, n in sorted(q.by_priority.items())))
    console.print(table)
    if found.unacked is not None:
        console.print(f"delivered to workers, not yet acknowledged: {found.unacked:,}", highlight=False)


def _active(w: WorkerInfo) -> str | None:
    if not w.answered:
        return None
    return escape("\n".join(f"{t.name.removeprefix('auralith.')}{tuple(t.args)}" for t in w.active) or "-")


def _shown(value: object) -> str | None:
    return None if value is None else str(value)


# `auralith workers`'s columns: a cell is None where the worker's value is not known.
WORKER_COLUMNS: dict[str, Callable[[WorkerInfo], str | None]] = {
    "worker": lambda w: escape(w.hostname),
    "state": lambda w: w.state if w.state == ALIVE else f"[red]{w.state}[/red]",
    "queues": lambda w: ",".join(w.queues),
    "holds": lambda w: _shown(w.held),
    "active": _active,
    "heartbeat": lambda w: None if w.heartbeat_age_s is None else f"{w.heartbeat_age_s:.0f} s ago",
    "pid": lambda w: _shown(w.pid),
    "procs": lambda w: _shown(w.concurrency),
    "peak RSS MiB": lambda w: _shown(w.max_rss_mib),
    "tasks done": lambda w: _shown(w.tasks_done),
}


@click.command()
@click.option(
    "--timeout", default=1.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds to wait for pings."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@store_options
@click.pass_context
def workers(ctx: click.Context, timeout: float, as_json: bool) -> None:
    """Workers by their heartbeat in the store (alive, dead) and their ping replies: queues, tasks, peak RSS."""
    client = client_for(ctx)
    found = client.list_workers(timeout)
    if as_json:
        click.echo(json.dumps(redact([w.to_dict() for w in found]), indent=2))
        return
    if not found:
        console.print(f"no worker has a heartbeat in the store or answered within {timeout} s")
        return
    # Columns that no worker has a value for (what only a ping reply tells, on a broker without broadcast) are left out.
    cells = [{name: cell(w) for name, cell in WORKER_COLUMNS.items()} for w in found]
    shown = [name for name in WORKER_COLUMNS if any(row[name] is not None for row in cells)]
    table = Table(header_style="bold")
    for name in shown:
        table.add_column(name, overflow="fold" if name in ("worker", "queues") else "ellipsis")
    for row in cells:
        table.add_row(*("-" if row[name] is None else row[name] for name in shown))
    console.print(table)
    if any(w.answered is None for w in found):
        console.print("this broker has no remote control (embedded SQLite): active tasks and sizes are not known")
    meaning = {
        DEAD: f"{DEAD}: no heartbeat for over {client.heartbeat_timeout:g} s (AURALITH_HEARTBEAT_TIMEOUT_S)",
        NO_HEARTBEAT: f"{NO_HEARTBEAT}: answers pings, but its heartbeat is missing or older than that",
    }
    notes = [line for state, line in meaning.items() if any(w.state == state for w in found)]
    if notes:
        console.print("; ".join(notes) + ". The supervisor sends again the work such a worker held.", highlight=False)


@click.group()
def metrics() -> None:
    """Prometheus metrics (see docs/metrics.md)."""


@metrics.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless you mean to expose it."
)
@click.option("--port", default=9808, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-queues", is_flag=True, help="Leave out the broker's queue depths.")
@store_options
@click.pass_context
def metrics_serve(ctx: click.Context, host: str, port: int, no_queues: bool) -> None:
    """Serve /metrics: the workers' task series (PROMETHEUS_MULTIPROC_DIR) plus the store's and queues'."""
    from auralith.observe.metrics import serve

    client = client_for(ctx)

    def depths() -> dict[str, int]:
        return client.queue_depths().depths()

    server, _ = serve(
        client.store_url, host, port, None if no_queues else depths, heartbeat_timeout_s=client.heartbeat_timeout
    )
    console.print(f"serving http://{host}:{server.server_port}/metrics (Ctrl-C stops)", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


COMMANDS = (queues, workers, metrics)
