"""`auralith run CONFIG`: a whole job on this machine with no servers."""

from __future__ import annotations

import click
from rich.markup import escape

from auralith.cli.common import check_job_inputs
from auralith.cli.here import here_service_options, run_here, state_dir_option


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (partitions run at once). Default: the number of cores.",
)
@state_dir_option
@click.option(
    "--resume",
    "resume_id",
    default=None,
    metavar="JOB",
    help="Finish an interrupted job of this store (it runs its stored config) instead of starting a new one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final job as JSON instead of tables.")
@here_service_options
@click.pass_context
def run(
    ctx: click.Context, config: str, workers: int | None, state_dir: str, resume_id: str | None, as_json: bool
) -> None:
    """Run a whole job here, with no servers: SQLite broker and store, a worker process per core."""
    from auralith.config import load_config
    from auralith.worker.embedded import default_workers

    workers = workers or default_workers()
    cfg = load_config(config)
    check_job_inputs(cfg)  # before any worker starts: the worker is on this machine and sees the same files

    def header(client, job_id: str) -> str:
        name = client.get_job(job_id, with_stats=False).name
        verb = "resumed" if resume_id else "running"
        return f"job [bold]{job_id}[/bold] ({escape(name)}) {verb} with {workers} worker processes"

    run_here(
        ctx,
        lambda client: client.resume(resume_id) if resume_id else client.submit(cfg),
        header,
        workers=workers,
        as_json=as_json,
        kept="its committed partitions kept; finish it",
    )


COMMANDS = (run,)
