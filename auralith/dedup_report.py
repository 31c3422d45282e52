"""`auralith dedup-report JOB`: what near dedup removed, the cluster-size histogram, the biggest clusters."""

from __future__ import annotations

import json

import click
from rich.table import Table

from auralith.cli import _client, console, service_options
from auralith.errors import AuralithError
from auralith.store.models import PartitionState


def dedup_report(client, job_id: str, top: int = 10) -> dict:
    """The report as a dict, from the dedup row's counts and the clusters file in the job's work dir.

    Raises AuralithError (one line for the user) when the job has no near-dedup result to show.
    """
    from auralith import storage
    from auralith.config import JobConfig
    from auralith.store import repo
    from auralith.workflow.near_dedup import NearDedupPaths
    from auralith.workflow.runners import WorkPaths

    info = client.get_job(job_id, with_stats=False)
    cfg = JobConfig.model_validate(info.config)
    near = cfg.preprocessing.near_dedup
    if not near.enabled:
        raise AuralithError(f"job {info.id} ran without near dedup (preprocessing.near_dedup.enabled is false)")
    row = repo.get_partition(client.store_url, info.id, "dedup", 0)
    if row is None or row.state != PartitionState.COMMITTED:
        raise AuralithError(f"job {info.id} has not finished dedup yet (dedup stage: "
                            f"{row.state if row else 'not planned'})")
    storage.use_storage_config(cfg.storage)  # the job's S3 endpoint and settings, when its work_dir is s3://
    path = NearDedupPaths(WorkPaths.for_job(cfg, info.id)).clusters
    try:
        clusters = json.loads(storage.read_bytes(path))["clusters"]
    except FileNotFoundError:  # an S3 ObjectNotFound is one too
        raise AuralithError(f"cluster list missing: {path} (is the job's work_dir on this machine?)") from None
    c = row.counts or {}
    return {
        "job_id": info.id,
        "removed": c.get("removed", {}),
        "clusters": c.get("clusters", 0),
        "cluster_sizes": {int(k): v for k, v in c.get("cluster_sizes", {}).items()},
        "lsh_threshold": c.get("lsh_threshold"),
        "verify_threshold": near.threshold if near.verify else None,
        "ngram": near.ngram, "num_bands": near.num_bands, "rows_per_band": near.rows_per_band,
        "biggest": clusters[:top],
    }


@click.command("dedup-report")
@click.argument("job_id")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0), help="Biggest clusters to list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@service_options
@click.pass_context
def dedup_report_command(ctx: click.Context, job_id: str, top: int, as_json: bool) -> None:
    """Duplicates a job removed, the sizes of its near-duplicate clusters and the biggest of them."""
    report = dedup_report(_client(ctx), job_id, top)
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

