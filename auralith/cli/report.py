"""`auralith report JOB --out DIR`: the dataset report of a job, from its partition rows in the store."""

from __future__ import annotations

import json
from pathlib import Path

import click

from auralith.cli.main import _client, console, service_options
from auralith.errors import AuralithError


def _report_client(ctx: click.Context, state_dir: str | None):
    """The store of `--store`/AURALITH_STORE_URL, or the embedded one `auralith run` keeps in `state_dir`."""
    if state_dir is None:
        return _client(ctx)
    from auralith.client import Client
    from auralith.worker.embedded import embedded_urls

    if "store" in ctx.obj["explicit"]:
        raise AuralithError("give either --store or --state-dir, not both")
    store = embedded_urls(Path(state_dir))[1]
    if not (Path(state_dir) / "auralith.db").exists():
        raise AuralithError(f"no embedded store in {state_dir} (`auralith run` keeps one there, in .auralith "
                            "by default)")
    return Client(None, store)


@click.command()
@click.argument("job_id")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for report.html, profile.json and the PNG plots (created if missing).")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="Read the embedded store that `auralith run --state-dir` wrote (e.g. .auralith) instead of "
                   "the server store.")
@click.option("--json", "as_json", is_flag=True, help="Print the written files and the profile as JSON.")
@service_options
@click.pass_context
def report(ctx: click.Context, job_id: str, out_dir: str, state_dir: str | None, as_json: bool) -> None:
    """Profile a job's data (per source, lengths before/after, removals, dedup, PII, tokens) into
    report.html with PNG plots and profile.json."""
    from auralith.report.write import write_report

    client = _report_client(ctx, state_dir)
    with console.status("merging partition profiles and drawing plots...", spinner="dots"):
        profile = client.profile(job_id)
        files = write_report(profile, out_dir)
    job_id = profile["job"]["id"]
    if as_json:
        click.echo(json.dumps({"html": str(files.html), "profile_json": str(files.profile_json),
                               "plots": {t: str(p) for t, p in files.plots.items()}, "profile": profile}, indent=2))
        return
    totals = profile["totals"]
    console.print(f"job {job_id} ({profile['job']['state']}): {totals['documents_in']:,} documents in, "
                  f"{totals['removed']:,} removed, {totals['documents_out']:,} out, {totals['tokens']:,} tokens",
                  highlight=False, markup=False, soft_wrap=True)
    console.print(f"wrote {files.html} ({len(files.plots)} plots) and {files.profile_json}", highlight=False,
                  soft_wrap=True, markup=False)
