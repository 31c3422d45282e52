"""`auralith train CONFIG --shards out/manifest.json`: train here (embedded worker) or on a cluster."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from auralith.cli.common import (
    BROKER_HELP,
    STORE_HELP,
    client_for,
    console,
    print_error,
    service_options,
    store_options,
)
from auralith.cli.here import run_here, state_dir_option


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--shards",
    default=None,
    type=click.Path(),
    help="manifest.json of tokenized shards (or its folder); default: the config's output.path.",
)
@click.option(
    "--submit",
    "to_cluster",
    is_flag=True,
    help="Send the job to the cluster's `hpu` workers (--broker/--store) instead of training here.",
)
@click.option("--watch", "then_watch", is_flag=True, help="With --submit: watch the job after sending it.")
@click.option(
    "--resume",
    "resume_id",
    default=None,
    metavar="JOB",
    help="Continue this job from its newest committed checkpoint instead of starting a new one.",
)
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the final job as JSON.")
@service_options(
    store_help=f"Here: default SQLite in --state-dir. With --submit: {STORE_HELP}",
    broker_help=f"Here: default SQLite in --state-dir. With --submit: {BROKER_HELP}",
)
@click.pass_context
def train(
    ctx: click.Context,
    config: str,
    shards: str | None,
    to_cluster: bool,
    then_watch: bool,
    resume_id: str | None,
    state_dir: str,
    as_json: bool,
) -> None:
    """Train the config's `training:` model on existing shards.

    By default it trains on this machine with an in-process worker and a SQLite store under --state-dir
    (devices as `training.device` says); with --submit it prints the job id and a worker started with
    `celery -A auralith worker -Q hpu --pool=solo` trains it.
    """
    from auralith.config import load_config
    from auralith.steps.shards import manifest_file
    from auralith.storage import Files

    cfg = load_config(config)
    if cfg.training is None:
        print_error(f"{config}: no `training:` section (see docs/training.md)")
        sys.exit(1)
    if cfg.training.world_size > 1 and not to_cluster:
        print_error(
            f"{config}: training.world_size is {cfg.training.world_size}: each rank needs a worker process of its "
            "own; send it to the cluster's `-Q hpu --pool=solo` workers with --submit (docs/training.md#several-cards)"
        )
        sys.exit(1)
    manifest = manifest_file(shards or cfg.output.path)  # a local path or an s3:// URL
    if not resume_id and not Files(cfg.storage).exists(manifest):  # the job's S3 settings, if s3://
        print_error(
            f"{manifest}: no manifest.json; run the data stages first (`auralith run {config}`) or give --shards"
        )
        sys.exit(1)

    def start(client) -> str:
        return client.resume(resume_id) if resume_id else client.train(cfg, manifest)

    if to_cluster:
        client = client_for(ctx)
        job_id = start(client)
        click.echo(job_id)
        if then_watch:
            from auralith.cli.progress import print_job_end, watch_job

            print_job_end(watch_job(client, job_id, console))
        return

    def header(client, job_id: str) -> str:
        if not resume_id:
            return f"job [bold]{job_id}[/bold] ({escape(cfg.name)}) training on {escape(str(manifest))}"
        # A resumed job trains on the shards it started with, whatever CONFIG or --shards say now.
        job = client.get_job(job_id, with_stats=False)
        ranks = client.partitions(job_id, "train")
        data = ranks[0].input_ref.get("manifest", "?") if ranks else "?"
        return f"job [bold]{job_id}[/bold] ({escape(job.name)}) resumed, training on {escape(str(data))}"

    run_here(ctx, start, header, workers=1, as_json=as_json, kept="its checkpoints kept; continue")


@click.command("export")
@click.argument("job_id")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(),
    help="Folder (or s3:// prefix) for config.json, model.safetensors and the tokenizer files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the step and the files written as JSON.")
@store_options
@click.pass_context
def export(ctx: click.Context, job_id: str, out_dir: str, as_json: bool) -> None:
    """Write a job's newest committed checkpoint as a Hugging Face model folder, which
    `transformers.AutoModelForCausalLM.from_pretrained(DIR)` loads (and `AutoTokenizer` its tokenizer)."""
    step, names = client_for(ctx).export(job_id, out_dir)
    if as_json:
        click.echo(json.dumps({"job_id": job_id, "step": step, "out": out_dir, "files": names}, indent=2))
        return
    console.print(
        f"exported step {step} of job {job_id} to {out_dir}: {', '.join(names)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


COMMANDS = (train, export)
