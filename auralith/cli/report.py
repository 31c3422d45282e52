"""`auralith report JOB --out DIR` (the dataset report) and `auralith dedup-report JOB` (what dedup removed)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from auralith.cli.common import client_for, console, store_options


@click.command()
@click.argument("job_id")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for report.html, profile.json and the PNG plots (created if missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the written files and the profile as JSON.")
@store_options
@click.pass_context
def report(ctx: click.Context, job_id: str, out_dir: str, as_json: bool) -> None:
    """Profile a job's data (per source, lengths before/after, removals, dedup, PII, tokens) into
    report.html with PNG plots and profile.json."""
    from auralith.report.write import write_report

    client = client_for(ctx)
    with console.status("merging partition profiles and drawing plots...", spinner="dots"):
        profile = client.profile(job_id)
        files = write_report(profile, out_dir)
    job_id = profile["job"]["id"]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "html": str(files.html),
                    "profile_json": str(files.profile_json),
                    "plots": {t: str(p) for t, p in files.plots.items()},
                    "profile": profile,
                },
                indent=2,
            )
        )
        return
    totals = profile["totals"]
    console.print(
        f"job {job_id} ({profile['job']['state']}): {totals['documents_in']:,} documents in, "
        f"{totals['removed']:,} removed, {totals['documents_out']:,} out, {totals['tokens']:,} tokens",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"wrote {files.html} ({len(files.plots)} plots) and {files.profile_json}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


@click.command("dedup-report")
@click.argument("job_id")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0), help="Biggest clusters to list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@store_options
@click.pass_context
def dedup_report(ctx: click.Context, job_id: str, top: int, as_json: bool) -> None:
    """Duplicates a job removed, the sizes of its near-duplicate clusters and the biggest of them."""
    from auralith.report.clusters import dedup_report as build_dedup_report

    client = client_for(ctx)
    info = client.get_job(job_id, with_stats=False)
    found = build_dedup_report(info.id, info.config, client.partitions(info.id), top)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    removed = ", ".join(f"{k} {v}" for k, v in sorted(found["removed"].items())) or "nothing"
    what = "estimated Jaccard" if found.get("verify_on") == "signature" else "exact Jaccard"
    verify = f", verified at {what} >= {found['verify_threshold']}" if found["verify_threshold"] else ""
    console.print(f"job {found['job_id']}: removed {removed}")
    console.print(
        f"{found['clusters']} near-duplicate clusters; {found['num_bands']} bands x "
        f"{found['rows_per_band']} rows of word {found['ngram']}-grams (LSH threshold "
        f"~{found['lsh_threshold']}{verify})"
    )
    sizes = Table("cluster size", "clusters", header_style="bold")
    for size, count in sorted(found["cluster_sizes"].items()):
        sizes.add_row(str(size), str(count))
    console.print(sizes)
    if found["biggest"]:
        big = Table("size", "kept", "removed (examples)", "kept at", header_style="bold")
        for cl in found["biggest"]:
            at = cl["kept_at"]
            big.add_row(
                str(cl["size"]),
                cl["kept"],
                ", ".join(cl["removed_examples"]),
                f"partition {at['partition']}, position {at['position']}",
            )
        console.print(big)


COMMANDS = (report, dedup_report)
