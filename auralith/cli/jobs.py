"""`submit`, `watch`, `status`, `jobs`, `cancel`, `resume`, `logs`: jobs on a cluster's broker and store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from auralith.cli.common import check_job_inputs, client_for, console, print_error, service_options, store_options
from auralith.errors import AuralithError

if TYPE_CHECKING:
    from auralith.observe.heals import HealSummary


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--priority",
    type=click.Choice(["low", "normal", "high", "critical"]),
    default=None,
    help="Message priority of the job's tasks, instead of the config's `priority` (default normal).",
)
@click.option("--watch", "then_watch", is_flag=True, help="Watch the job after submitting it.")
@click.option(
    "--no-check",
    "skip_check",
    is_flag=True,
    help="Do not check the sources and tokenizer on this machine (when only the workers see their paths).",
)
@service_options
@click.pass_context
def submit(ctx: click.Context, config: str, priority: str | None, then_watch: bool, skip_check: bool) -> None:
    """Submit a job to the workers and print its id.

    The config's sources and tokenizer are checked on this machine first, as `run` does.
    """
    from auralith.config import load_config

    cfg = load_config(config)
    if not skip_check:
        try:
            check_job_inputs(cfg)
        except AuralithError as exc:
            raise AuralithError(
                f"{exc}\n(checked on this machine: if only the workers see these paths, submit with --no-check)"
            ) from exc
    job_id = client_for(ctx).submit(cfg, priority=priority)
    click.echo(job_id)
    if then_watch:
        ctx.invoke(watch, job_id=job_id)


# What `jobs --state` accepts (auralith.store.models.JobState, spelled out: that import loads SQLAlchemy): a
# state no job can be in is a typo, not an empty list.
JOB_STATES = ("pending", "running", "succeeded", "failed", "cancelled")


@click.command()
@click.argument("job_id")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds.")
@store_options
@click.pass_context
def watch(ctx: click.Context, job_id: str, timeout: float | None) -> None:
    """Show live progress per stage until the job ends."""
    from auralith.cli.progress import print_job_end, watch_job

    print_job_end(watch_job(client_for(ctx), job_id, console, timeout=timeout))


def print_stuck(stuck: list[dict], timeout: float) -> None:
    """The warning `status` prints for units started on workers whose heartbeat stopped."""
    if not stuck:
        return
    console.print(f"[yellow]{len(stuck)} unit(s) started on workers silent for over {timeout:g} s:[/yellow]")
    for p in stuck:
        silent = f"silent {p['silent_s']:.0f} s" if p["silent_s"] is not None else "no heartbeat"
        console.print(
            f"  {p['stage']} {p['index']} on {escape(str(p['worker']))} ({silent}), started {p['started_at']}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        "  the supervisor sends them again by itself (it runs in `celery -A auralith beat` and in `auralith run`)",
        highlight=False,
        soft_wrap=True,
    )


def print_heals(heals: HealSummary) -> None:
    """What the supervisor did for the job: counts by reason, then its last heals."""
    if not heals.total:
        return
    from rich.table import Table

    from auralith.redact import redact_text

    table = Table(title=heals.line(), header_style="bold")
    for col in ("time", "stage", "unit", "reason"):
        table.add_column(col, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for h in heals.last:
        unit = "-" if h.index is None else str(h.index)
        table.add_row(f"{h.time:%Y-%m-%d %H:%M:%S}", h.stage, unit, h.reason, escape(redact_text(h.detail)))
    console.print(table)


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@store_options
@click.pass_context
def status(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """State, units per stage, documents and tokens so far, removals, input issues, heals."""
    from auralith.cli.progress import print_issues, removals_table, stages_table, summary_table
    from auralith.observe.heals import summarize_heals
    from auralith.redact import redact

    client = client_for(ctx)
    info = client.get_job(job_id)
    heals = summarize_heals(client.heals(info.id))
    stuck = client.stuck_partitions(info.id) if info.state == "running" else []
    if as_json:
        click.echo(json.dumps(redact({**info.to_dict(), "heals": heals.to_dict(), "stuck": stuck}), indent=2))
        return
    console.print(summary_table(info, removal_rows=False))
    console.print(removals_table(info.figures))
    console.print(stages_table(info.figures))
    print_issues(info.figures)
    print_heals(heals)
    print_stuck(stuck, client.heartbeat_timeout)
    if info.error:
        print_error(redact(info.error), stream=console)


@click.command()
@click.option("--state", default=None, type=click.Choice(JOB_STATES), help="Only jobs in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@store_options
@click.pass_context
def jobs(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    from rich.table import Table

    found = client_for(ctx).list_jobs(limit, state)
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in found], indent=2))
        return
    table = Table(header_style="bold")
    table.add_column("id", no_wrap=True, min_width=36)
    for col in ("name", "state", "priority", "created", "output"):
        table.add_column(col)
    for j in found:
        table.add_row(j.id, j.name, j.state, j.priority, j.created_at.strftime("%Y-%m-%d %H:%M:%S"), j.output or "")
    console.print(table)


@click.command()
@click.argument("job_id")
@click.option("--terminate", is_flag=True, help="Also SIGTERM the pool processes running its tasks (prefork).")
@store_options
@click.pass_context
def cancel(ctx: click.Context, job_id: str, terminate: bool) -> None:
    """Revoke a job's queued tasks and mark it cancelled; committed outputs stay, `resume` goes on."""
    client = client_for(ctx)
    job_id = client.get_job(job_id, with_stats=False).id
    n = client.cancel(job_id, terminate=terminate)
    click.echo(f"cancelled {job_id} ({n} task{'' if n == 1 else 's'} revoked)")


@click.command()
@click.argument("job_id")
@click.option("--watch", "then_watch", is_flag=True, help="Watch the job after resuming it.")
@store_options
@click.pass_context
def resume(ctx: click.Context, job_id: str, then_watch: bool) -> None:
    """Re-enqueue everything of a job that is not committed."""
    state_dir = ctx.find_root().obj.get("state_dir")
    if state_dir is not None:  # its worker lives in the `run` or `train` process, not on a broker's
        raise AuralithError(
            f"an embedded job resumes where it runs: auralith run CONFIG --resume {job_id} --state-dir {state_dir} "
            "(auralith train CONFIG ... for a job that only trains)"
        )
    job_id = client_for(ctx).resume(job_id)
    click.echo(f"resumed {job_id}")
    if then_watch:
        ctx.invoke(watch, job_id=job_id)


@click.command()
@click.argument("job_id")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until the job ends.")
@store_options
@click.pass_context
def logs(ctx: click.Context, job_id: str, limit: int, follow: bool) -> None:
    """The job's events: planned, resumed, failed, succeeded."""
    from auralith.redact import redact_text

    client = client_for(ctx)
    if not follow:
        for time, level, message in client.events(job_id, limit):
            click.echo(f"{time:%Y-%m-%d %H:%M:%S} {level:<7} {redact_text(message)}")
        return
    # The stream `GET /api/jobs/{id}/events` serves (auralith.observe.job_view.follow_job), events only.
    for update in client.follow(job_id, snapshots=False):
        if update.kind == "event":
            d = update.data
            click.echo(f"{d['time'][:19].replace('T', ' ')} {d['level']:<7} {redact_text(d['message'])}")
        elif update.kind == "end":
            click.echo(f"job {update.data['id']} {update.data['state']}")


COMMANDS = (submit, watch, status, jobs, cancel, resume, logs)
