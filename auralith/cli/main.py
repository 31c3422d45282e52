"""The `auralith` command group: its global options, and every command family registered on it."""

from __future__ import annotations

import click
from click.core import ParameterSource

from auralith.cli import admin, jobs, ops, report, run, serve, train
from auralith.cli.common import BROKER_HELP, STORE_HELP, AuralithGroup


@click.group(cls=AuralithGroup)
@click.option("--broker", envvar="AURALITH_BROKER_URL", help=BROKER_HELP)
@click.option("--store", envvar="AURALITH_STORE_URL", help=STORE_HELP)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and worker logs.")
@click.version_option(package_name="auralith")
@click.pass_context
def main(ctx: click.Context, broker: str | None, store: str | None, verbose: bool) -> None:
    """Auralith: clean, deduplicate and tokenize text into safetensors shards, and train a small GPT on them,
    on Celery.

    `auralith run JOB.yaml` runs a whole job here with no servers (with a `training:` section it trains
    too); `auralith train JOB.yaml --shards DIR` trains on shards already made; `submit` sends a job to a
    cluster's workers.
    """
    # `run` is embedded unless --broker/--store are given on the command line; AURALITH_* variables
    # configure the server-side commands only.
    explicit = {
        name: value
        for name, value in (("broker", broker), ("store", store))
        if value and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    ctx.obj = {"broker": broker, "store": store, "verbose": verbose, "explicit": explicit}


for family in (run, jobs, train, report, ops, admin, serve):
    for command in family.COMMANDS:
        main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
