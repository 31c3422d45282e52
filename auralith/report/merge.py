"""A job's profile merged from its partition rows with pandas: what `profile.json` and the report hold.

Counts are summed, means are weighted by document count (a sum of characters over a sum of documents,
which is the document-weighted mean of the partitions' means), min/max combine, and quantiles come from
the partitions' KLL sketches merged into one. Figures that other stages may add to their rows (PII
counts, near-dedup cluster sizes) are read when present and reported as `None` ("not run") otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from auralith.config import JobConfig
from auralith.errors import AuralithError
from auralith.pipeline.mix_report import output_rows, realised_mix
from auralith.pipeline.stats import job_stats
from auralith.steps.profile import EDGES, dense_hist, merge_series, series_sketch
from auralith.store.models import Job, Partition, PartitionState

PROFILE_FORMAT = "auralith-profile/1"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SOURCE_COLUMNS = [
    "source",
    "path",
    "records",
    "documents_in",
    "chars_in",
    "mean_chars_in",
    "min_chars_in",
    "max_chars_in",
    "documents_kept",
    "chars_kept",
    "mean_chars_kept",
    "removed",
    "removed_pct",
]


class NoProfile(AuralithError):
    """The job's rows carry no profile: made before profiles existed, or nothing committed yet."""


def _committed(partitions: Iterable[Partition], stage: str) -> list[Partition]:
    return [p for p in partitions if p.stage == stage and p.state == PartitionState.COMMITTED and p.counts]


def sources_frame(profiles: list[dict], source_paths: list[str]) -> pd.DataFrame:
    """One row per source: records read, documents and characters in (before filters) and kept (after),
    summed over partitions; mean lengths weighted by documents; min/max over partitions; its removals
    (bad records included) and their share of its records."""
    rows = [
        {"source": int(key), **{k: v for k, v in c.items() if k != "removed"}, "removed": sum(c["removed"].values())}
        for p in profiles
        for key, c in p.get("sources", {}).items()
    ]
    if not rows:
        return pd.DataFrame(columns=SOURCE_COLUMNS)
    df = (
        pd.DataFrame(rows)
        .groupby("source", as_index=False)
        .agg(
            records=("records", "sum"),
            documents_in=("documents_in", "sum"),
            chars_in=("chars_in", "sum"),
            min_chars_in=("min_in", "min"),
            max_chars_in=("max_in", "max"),
            documents_kept=("documents_kept", "sum"),
            chars_kept=("chars_kept", "sum"),
            removed=("removed", "sum"),
        )
    )
    df["path"] = [source_paths[i] if i < len(source_paths) else f"source {i}" for i in df["source"]]
    df["mean_chars_in"] = df["chars_in"] / df["documents_in"].where(df["documents_in"] > 0)
    df["mean_chars_kept"] = df["chars_kept"] / df["documents_kept"].where(df["documents_kept"] > 0)
    df["removed_pct"] = 100 * df["removed"] / df["records"].where(df["records"] > 0)
    return df[SOURCE_COLUMNS]


def removals_by_source(profiles: list[dict], source_paths: list[str]) -> pd.DataFrame:
    """Documents removed by the process stage, one row per reason, one column per source."""
    rows = [
        {"source": int(key), "reason": reason, "documents": n}
        for p in profiles
        for key, c in p.get("sources", {}).items()
        for reason, n in c["removed"].items()
    ]
    if not rows:
        return pd.DataFrame()
    every_source = sorted({int(key) for p in profiles for key in p.get("sources", {})})
    table = (
        pd.DataFrame(rows)
        .pivot_table(index="reason", columns="source", values="documents", aggfunc="sum", fill_value=0)
        .reindex(columns=every_source, fill_value=0)
    )
    table.columns = [source_paths[i] if i < len(source_paths) else f"source {i}" for i in table.columns]
    return table


def summarize_series(stored: dict | None) -> dict | None:
    """count, mean, min, max, quantiles (from the merged KLL sketch) and the histogram of a merged series."""
    if not stored:
        return None
    sketch = series_sketch(stored)
    hist = dense_hist(stored)
    return {
        "count": stored["count"],
        "sum": stored["sum"],
        "mean": stored["sum"] / stored["count"],
        "min": stored["min"],
        "max": stored["max"],
        "quantiles": {
            f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, sketch.get_quantiles(QUANTILES), strict=True)
        },
        "quantile_rank_error": sketch.normalized_rank_error(False),
        "histogram": {"edges": [float(e) for e in EDGES] + [None], "counts": [int(n) for n in hist]},
    }


def summed_counts(rows: list[Partition], key: str) -> dict[str, int] | None:
    """`counts[key]` dicts of the rows that carry one, summed key by key; None when no row carries it."""
    dicts = [p.counts[key] for p in rows if p.counts and isinstance(p.counts.get(key), dict)]
    if not dicts:
        return None
    total = pd.DataFrame(dicts).fillna(0).sum()
    return {k: int(v) for k, v in total.sort_index().items()}


def cluster_summary(dedup_rows: list[Partition]) -> dict | None:
    """Near-dedup cluster sizes (`{size: clusters}` on the near_dedup row): the distribution and its totals."""
    sizes = summed_counts(dedup_rows, "cluster_sizes")
    if sizes is None:
        return None
    df = pd.DataFrame({"size": [int(k) for k in sizes], "clusters": list(sizes.values())}).sort_values("size")
    return {
        "sizes": {str(s): int(n) for s, n in zip(df["size"], df["clusters"], strict=True)},
        "clusters": int(df["clusters"].sum()),
        "documents_in_clusters": int((df["size"] * df["clusters"]).sum()),
        "duplicates_removed": int(((df["size"] - 1) * df["clusters"]).sum()),
        "largest": int(df["size"].max()) if len(df) else 0,
    }


def source_labels(config: dict) -> list[str]:
    """Each source's glob(s) as the user wrote them: relative to the config's folder when under it."""
    base = config.get("base_dir")
    labels = []
    for src in config.get("sources", []):
        patterns = src["path"] if isinstance(src["path"], list) else [src["path"]]
        if base:
            patterns = [os.path.relpath(p, base) if p.startswith(base.rstrip("/") + "/") else p for p in patterns]
        labels.append(", ".join(patterns))
    return labels


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def build_profile(job: Job, partitions: list[Partition], training: list[dict] | None = None) -> dict:
    """The whole job's profile (the content of `profile.json`) from its partition rows, plus the training
    metrics history (`Store.metrics_history`) when the job trained.

    Raises NoProfile when no committed partition carries one.
    """
    process, tokenize = _committed(partitions, "process"), _committed(partitions, "tokenize")
    proc_profiles = [p.counts["profile"] for p in process if p.counts and "profile" in p.counts]
    tok_profiles = [p.counts["profile"] for p in tokenize if p.counts and "profile" in p.counts]
    if not proc_profiles and not tok_profiles:
        why = (
            "no partition has committed yet"
            if not process
            else "its partitions carry none (it ran before `auralith report` existed); run the job again"
        )
        raise NoProfile(f"job {job.id} has no profile to report: {why}")
    source_paths = source_labels(job.config or {})
    stats = job_stats(partitions)
    n_in = stats.records
    removals = [
        {"reason": r, "documents": n, "percent_of_input": 100 * n / n_in if n_in else None}
        for r, n in sorted(stats.removed.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    coverage = {
        stage: {"total": sum(p.stage == stage for p in partitions), "committed": len(rows), "profiled": len(profiled)}
        for stage, rows, profiled in (("process", process, proc_profiles), ("tokenize", tokenize, tok_profiles))
    }
    sources = sources_frame(proc_profiles, source_paths)
    return {
        "format": PROFILE_FORMAT,
        "job": {
            "id": job.id,
            "name": job.name,
            "state": job.state,
            "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "output": job.output_uri,
        },
        "partitions": coverage,
        "totals": {
            "documents_in": n_in,
            "input_bytes": stats.input_bytes,
            "kept_after_filters": stats.kept_after_filters,
            "documents_out": stats.documents_out,
            "removed": sum(stats.removed.values()),
            "tokens": stats.tokens,
            "shards": stats.shards,
            "truncated": stats.truncated,
        },
        "sources": _records(sources),
        "removals": removals,
        "removals_by_source": {
            reason: {k: int(v) for k, v in row.items()}
            for reason, row in removals_by_source(proc_profiles, source_paths).iterrows()
        },
        "length_before": summarize_series(merge_series([p.get("length_before") for p in proc_profiles])),
        "length_after_filters": summarize_series(merge_series([p.get("length_after") for p in proc_profiles])),
        "length_output": summarize_series(merge_series([p.get("length_output") for p in tok_profiles])),
        "tokens_per_document": summarize_series(merge_series([p.get("tokens") for p in tok_profiles])),
        "pii": summed_counts(process, "pii"),
        # language -> documents and tokens written; None when the job did not identify languages
        "languages": stats.languages or None,
        "dedup_clusters": cluster_summary(_committed(partitions, "near_dedup")),
        "training": training_summary(training),
        "mix": _mix(job, partitions),
    }


def _mix(job: Job, partitions: list[Partition]) -> list[dict] | None:
    """Tokens per source written, requested vs realised (auralith.pipeline.mix_report); None for a job whose
    config no longer parses (written by an older version)."""
    try:
        cfg = JobConfig.model_validate(job.config)
    except ValueError:
        return None
    return realised_mix(cfg, partitions, output_rows(cfg, partitions))


def training_summary(history: list[dict] | None) -> dict | None:
    """Steps, first/last loss and the logged curve of a training run; None when the job did not train."""
    if not history:
        return None
    val = [m for m in history if m.get("val_loss") is not None]
    return {
        "steps": history[-1]["step"],
        "first_loss": history[0]["loss"],
        "last_loss": history[-1]["loss"],
        "last_val_loss": val[-1]["val_loss"] if val else None,
        "tokens_seen": history[-1].get("tokens_seen"),
        "history": [{k: m.get(k) for k in ("step", "loss", "val_loss", "lr", "tokens_per_s")} for m in history],
    }


def _records(df: pd.DataFrame) -> list[dict]:
    # NaN (a mean over no documents) becomes null in JSON; numpy ints become Python ints.
    return [
        {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]
