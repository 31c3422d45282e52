"""Partition and job rows as the store holds them, built in memory for report tests."""

from __future__ import annotations

from datetime import datetime, timezone

from auralith.steps.profile import PartitionProfile
from auralith.store.models import Job, Partition

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def job(**config) -> Job:
    config = {
        "sources": [{"path": ["/data/web/*.jsonl"]}, {"path": ["/data/books/*.txt"]}],
        "base_dir": "/data",
        **config,
    }
    return Job(
        id="job-1",
        name="t",
        state="succeeded",
        config=config,
        config_hash="h",
        priority="normal",
        created_at=T0,
        started_at=T0,
        finished_at=T0,
        output_uri="/out",
    )


def process_row(
    index: int, docs: dict[int, list[int]], removed: dict[int, dict[str, int]] | None = None, **extra
) -> Partition:
    """A committed process row: `docs` = {source: lengths before filters}; the first `kept` are kept."""
    prof = PartitionProfile()
    removed = removed or {}
    total_removed: dict[str, int] = {}
    n = kept = 0
    for source, lengths in docs.items():
        gone = sum(removed.get(source, {}).values())
        for i, length in enumerate(lengths):
            prof.add_before(source, "x" * length)
            if i >= gone:
                prof.add_after(source, "x" * length)
                kept += 1
        for reason, k in removed.get(source, {}).items():
            for _ in range(k):
                prof.add_removed(source, reason)
            total_removed[reason] = total_removed.get(reason, 0) + k
        n += len(lengths)
    counts = {
        "records": n,
        "documents": n,
        "kept": kept,
        "bytes": 0,
        "removed": total_removed,
        "input_errors": {},
        "issues": [],
        "issue_count": 0,
        "profile": prof.to_dict(),
        **extra,
    }
    return Partition(
        job_id="job-1", stage="process", index=index, input_ref={}, input_bytes=100, state="committed", counts=counts
    )


def tokenize_row(
    index: int, tokens: list[int], state: str = "committed", languages: dict[str, dict[str, int]] | None = None
) -> Partition:
    prof = PartitionProfile()
    for t in tokens:
        prof.add_output("y" * (4 * t), t)
    counts = {
        "documents": len(tokens),
        "kept": len(tokens),
        "tokens": sum(tokens),
        "truncated": 0,
        "removed": {},
        "shards": 1,
        "profile": prof.to_dict(),
        **({"languages": languages} if languages else {}),
    }
    return Partition(
        job_id="job-1", stage="tokenize", index=index, input_ref={}, input_bytes=0, state=state, counts=counts
    )


def dedup_row(stage: str = "dedup", **counts) -> Partition:
    """A committed row of a dedup decision: `dedup` (exact) or `near_dedup` (the clusters)."""
    return Partition(
        job_id="job-1",
        stage=stage,
        index=0,
        input_ref={},
        input_bytes=0,
        state="committed",
        counts={"removed": {}, **counts},
    )
