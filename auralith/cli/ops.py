"""`auralith queues`, `auralith workers`, `auralith metrics serve`: the cluster as operators see it."""

from __future__ import annotations

import json
import time

import click
from rich.markup import escape
from rich.table import Table

from auralith.cli.common import client_for, console, print_error, service_options
from auralith.redact import redact


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@service_options
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


@click.command()
@click.option(
    "--timeout", default=1.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds to wait for replies."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@service_options
@click.pass_context
def workers(ctx: click.Context, timeout: float, as_json: bool) -> None:
    """Workers answering now: queues, active tasks, last heartbeat (ping reply), peak RSS."""
    found = client_for(ctx).list_workers(timeout)
    if found is None:
        print_error("this broker has no remote control (embedded SQLite): use a Redis or RabbitMQ broker")
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(redact([w.to_dict() for w in found]), indent=2))
        return
    if not found:
        console.print(f"no worker answered within {timeout} s")
        return
    table = Table(header_style="bold")
    for col in ("worker", "queues", "active", "heartbeat", "pid", "procs", "peak RSS MiB", "tasks done"):
        table.add_column(col)
    for w in found:
        active = "\n".join(f"{t.name.removeprefix('auralith.')}{tuple(t.args)}" for t in w.active) or "-"
        table.add_row(
            escape(w.hostname),
            ",".join(w.queues),
            escape(active),
            w.heartbeat.strftime("%H:%M:%S") if w.heartbeat else "-",
            str(w.pid or "-"),
            str(w.concurrency or "-"),
            str(w.max_rss_mib or "-"),
            str(w.tasks_done),
        )
    console.print(table)


@click.group()
def metrics() -> None:
    """Prometheus metrics (see docs/metrics.md)."""


@metrics.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless you mean to expose it."
)
@click.option("--port", default=9808, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-queues", is_flag=True, help="Leave out the broker's queue depths.")
@service_options
@click.pass_context
def metrics_serve(ctx: click.Context, host: str, port: int, no_queues: bool) -> None:
    """Serve /metrics: the workers' task series (PROMETHEUS_MULTIPROC_DIR) plus the store's and queues'."""
    from auralith.observe.metrics import serve

    client = client_for(ctx)

    def depths() -> dict[str, int]:
        return client.queue_depths().depths()

    server, _ = serve(client.store_url, host, port, None if no_queues else depths)
    console.print(f"serving http://{host}:{server.server_port}/metrics (Ctrl-C stops)", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


COMMANDS = (queues, workers, metrics)
