"""What dedup removed and the near-duplicate clusters it found: the data of `auralith dedup-report`."""

from __future__ import annotations

import json

from auralith.config import JobConfig
from auralith.errors import AuralithError
from auralith.pipeline.paths import WorkPaths
from auralith.store.models import Partition, PartitionState


def dedup_report(job_id: str, config: dict, partitions: list[Partition], top: int = 10) -> dict:
    """The report as a dict, from the dedup rows' counts and the clusters file in the job's work dir.

    Raises AuralithError (one line for the user) when the job has no near-dedup result to show.
    """
    cfg = JobConfig.model_validate(config)
    near = cfg.preprocessing.near_dedup
    if not near.enabled:
        raise AuralithError(f"job {job_id} ran without near dedup (preprocessing.near_dedup.enabled is false)")
    # The stage's figures are on its last unit: its one join, or the summary of its rounds.
    near_rows = sorted((p for p in partitions if p.stage == "near_dedup"), key=lambda p: p.index)
    row = near_rows[-1] if near_rows else None
    if row is None or row.state != PartitionState.COMMITTED or "clusters" not in (row.counts or {}):
        raise AuralithError(
            f"job {job_id} has not finished near dedup yet (near_dedup stage: {row.state if row else 'not planned'})"
        )
    paths = WorkPaths.for_job(cfg, job_id)  # its `files` reach an s3:// work_dir with the job's own settings
    path = paths.clusters
    try:
        clusters = json.loads(paths.files.read_bytes(path))["clusters"]
    except FileNotFoundError:  # an S3 ObjectNotFound is one too
        raise AuralithError(f"cluster list missing: {path} (is the job's work_dir on this machine?)") from None
    c = row.counts or {}
    # The exact decision has a row per hash range.
    exact = sum((p.counts or {}).get("removed", {}).get("exact_duplicate", 0) for p in partitions if p.stage == "dedup")
    return {
        "job_id": job_id,
        "removed": {**({"exact_duplicate": exact} if exact else {}), **c.get("removed", {})},
        "clusters": c.get("clusters", 0),
        "cluster_sizes": {int(k): v for k, v in c.get("cluster_sizes", {}).items()},
        "lsh_threshold": c.get("lsh_threshold"),
        "verify_threshold": near.threshold if near.verify else None,
        "verify_on": near.verify_on,
        "ngram": near.ngram,
        "num_bands": near.num_bands,
        "rows_per_band": near.rows_per_band,
        "biggest": clusters[:top],
    }
