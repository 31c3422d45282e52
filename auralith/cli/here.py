"""What `run` and `train` share: a job run here (auralith.embedded) shown live, and after Ctrl-C the command
line that finishes it."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from auralith.cli.common import console, err_console, explicit_services, print_error, service_options, verbose

if TYPE_CHECKING:
    from auralith.client import Client, JobInfo


def state_dir_option(fn):
    """`--state-dir`, where the embedded broker and store live."""
    return click.option(
        "--state-dir",
        default=".auralith",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Where the embedded SQLite broker and store live.",
    )(fn)


# `run` and `train` run embedded: a server's URL goes to them only on their command line.
here_service_options = service_options(
    store_help="SQL store URL; default: SQLite in --state-dir (AURALITH_STORE_URL is not read: this runs here)",
    broker_help="Broker URL; default: SQLite in --state-dir (AURALITH_BROKER_URL is not read: this runs here)",
)


def run_here(
    ctx: click.Context,
    start: Callable[[Client], str],
    header: Callable[[Client, str], str],
    *,
    workers: int,
    as_json: bool,
    kept: str,
) -> None:
    """Run the job `start(client)` sends on an in-process worker, showing `header` and live progress (or JSON at
    the end); exits 1 unless it succeeds, 130 after Ctrl-C, telling what was `kept` and how to resume."""
    from auralith.cli.progress import print_job_end, watch_job
    from auralith.embedded import JobInterrupted, check_state_dir, run_to_end

    def watch(client: Client, job_id: str) -> JobInfo:
        if as_json:
            return client.wait(job_id)
        console.print(header(client, job_id))
        return watch_job(client, job_id, console)

    if ctx.params.get("resume_id") and "store" not in explicit_services(ctx):
        check_state_dir(ctx.params["state_dir"])  # a mistyped --state-dir must not start an empty store
    # Task failures reach the user as the job's error; worker tracebacks only with --verbose.
    loglevel = "INFO" if verbose(ctx) else "CRITICAL"
    try:
        run_to_end(
            start,
            watch,
            state_dir=ctx.params["state_dir"],
            workers=workers,
            loglevel=loglevel,
            on_end=partial(print_job_end, as_json=as_json),
            **explicit_services(ctx),
        )
    except JobInterrupted as exc:
        err_console.print(
            f"interrupted: job {exc.job_id} cancelled, {kept} with: {resume_command(ctx, exc.job_id)}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        sys.exit(130)
    except RuntimeError as exc:  # the in-process worker did not stop in time: a partition still running
        print_error(exc)
        sys.exit(1)


def resume_command(ctx: click.Context, job_id: str) -> str:
    """This command line with `--resume JOB`, ready to paste: the same config, state dir and services."""
    from auralith.embedded import DEFAULT_STATE_DIR
    from auralith.redact import redact_url

    words = ["auralith", ctx.info_name, ctx.params["config"], "--resume", job_id]
    if Path(ctx.params["state_dir"]) != DEFAULT_STATE_DIR:
        words += ["--state-dir", ctx.params["state_dir"]]
    if ctx.get_parameter_source("workers") == ParameterSource.COMMANDLINE:
        words += ["--workers", str(ctx.params["workers"])]
    for name, url in explicit_services(ctx).items():
        words += [f"--{name}", redact_url(url)]  # a password shows as ***: the user types it, it is not printed
    return shlex.join(words)
