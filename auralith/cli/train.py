"""`auralith train CONFIG --shards out/manifest.json`: train here (embedded worker) or on a cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from auralith.cli.main import _client, console, err_console, print_error, service_options


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--shards", default=None, type=click.Path(),
              help="manifest.json of tokenized shards (or its folder); default: the config's output.path.")
@click.option("--submit", "to_cluster", is_flag=True,
              help="Send the job to the cluster's `hpu` workers (--broker/--store) instead of training here.")
@click.option("--watch", "then_watch", is_flag=True, help="With --submit: watch the job after sending it.")
@click.option("--resume", "resume_id", default=None, metavar="JOB",
              help="Continue this job from its newest committed checkpoint instead of starting a new one.")
@click.option("--state-dir", default=".auralith", show_default=True, type=click.Path(file_okay=False),
              help="Where the embedded SQLite broker and store live.")
@click.option("--json", "as_json", is_flag=True, help="Print the final job as JSON.")
@service_options
@click.pass_context
def train(ctx: click.Context, config: str, shards: str | None, to_cluster: bool, then_watch: bool,
          resume_id: str | None, state_dir: str, as_json: bool) -> None:
    """Train the config's `training:` model on existing shards.

    By default it trains on this machine with an in-process worker and a SQLite store under --state-dir
    (devices as `training.device` says); with --submit it prints the job id and a worker started with
    `celery -A auralith worker -Q hpu --pool=solo` trains it.
    """
    from auralith.config import load_config

    cfg = load_config(config)
    if cfg.training is None:
        print_error(f"{config}: no `training:` section (see docs/training.md)")
        sys.exit(1)
    from auralith import storage
    from auralith.steps.shards import manifest_file

    manifest = manifest_file(shards or cfg.output.path)  # a local path or an s3:// URL
    if not resume_id and not storage.exists(manifest):
        print_error(f"{manifest}: no manifest.json; run the data stages first (`auralith run {config}`)"
                    " or give --shards")
        sys.exit(1)

    if to_cluster:
        client = _client(ctx)
        job_id = client.resume(resume_id) if resume_id else client.train(cfg, manifest)
        click.echo(job_id)
        if then_watch:
            from auralith.cli.main import watch

            ctx.invoke(watch, job_id=job_id)
        return
    _train_here(ctx, cfg, manifest, resume_id, Path(state_dir), as_json)


def _train_here(ctx: click.Context, cfg, manifest: str | Path, resume_id: str | None, state_dir: Path,
                as_json: bool) -> None:
    from auralith.cli.progress import summary_table, watch_job
    from auralith.client import Client
    from auralith.worker.embedded import embedded_worker

    explicit = ctx.obj["explicit"]
    loglevel = "INFO" if ctx.obj["verbose"] else "CRITICAL"
    with embedded_worker(state_dir, 1, explicit.get("broker"), explicit.get("store"), loglevel=loglevel) as urls:
        client = Client(*urls)
        job_id = client.resume(resume_id) if resume_id else client.train(cfg, manifest)
        try:
            if as_json:
                info = client.wait(job_id)
            else:
                console.print(f"job [bold]{job_id}[/bold] ({escape(cfg.name)}) training on {escape(str(manifest))}")
                info = watch_job(client, job_id, console)
        except KeyboardInterrupt:
            client.cancel(job_id)
            err_console.print(f"interrupted: job {job_id} cancelled, its checkpoints kept; continue with: "
                              f"auralith train CONFIG --resume {job_id}", highlight=False, markup=False,
                              soft_wrap=True)
            sys.exit(130)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        console.print(summary_table(info))
        if info.error:
            print_error(info.error, label="job failed")
    if info.state != "succeeded":
        sys.exit(1)
