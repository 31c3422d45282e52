"""`auralith dedup-report JOB`: what near dedup removed, the cluster-size histogram, the biggest clusters."""

from __future__ import annotations

import json

import click
from rich.table import Table

from auralith.cli.main import _client, console, service_options
from auralith.report.clusters import dedup_report


@click.command("dedup-report")
@click.argument("job_id")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0), help="Biggest clusters to list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@service_options
@click.pass_context
def dedup_report_command(ctx: click.Context, job_id: str, top: int, as_json: bool) -> None:
    """Duplicates a job removed, the sizes of its near-duplicate clusters and the biggest of them."""
    client = _client(ctx)
    info = client.get_job(job_id, with_stats=False)
    report = dedup_report(info.id, info.config, client.partitions(info.id), top)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    removed = ", ".join(f"{k} {v}" for k, v in sorted(report["removed"].items())) or "nothing"
    verify = f", verified at estimated Jaccard >= {report['verify_threshold']}" if report["verify_threshold"] else ""
    console.print(f"job {report['job_id']}: removed {removed}")
    console.print(f"{report['clusters']} near-duplicate clusters; {report['num_bands']} bands x "
                  f"{report['rows_per_band']} rows of word {report['ngram']}-grams (LSH threshold "
                  f"~{report['lsh_threshold']}{verify})")
    sizes = Table("cluster size", "clusters", header_style="bold")
    for size, count in sorted(report["cluster_sizes"].items()):
        sizes.add_row(str(size), str(count))
    console.print(sizes)
    if report["biggest"]:
        big = Table("size", "kept", "removed (examples)", "kept at", header_style="bold")
        for cl in report["biggest"]:
            at = cl["kept_at"]
            big.add_row(str(cl["size"]), cl["kept"], ", ".join(cl["removed_examples"]),
                        f"partition {at['partition']}, position {at['position']}")
        console.print(big)

