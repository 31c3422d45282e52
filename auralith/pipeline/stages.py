"""The stage graph, as data: which stages a job has, in order, how each fans out, where it runs.

    process (per partition) ─> dedup (exact, per hash range)
        ─> [minhash (per band and key range) ─> near_dedup (per job, or rounds per range of partitions)]
        ─> tokenize (per partition) ─> [mix (per job)] ─> [write (per output part)]
        ─> finalize (per job: the manifest) ─> [train (per rank)]

A job's stages are planned as rows of `auralith_partitions` (one per unit) when the job starts; a stage
runs once every stage before it is committed. `auralith.worker.lifecycle.advance` reads the rows and this
graph and sends what should run next: it is the only code that decides. Adding a stage is a module with
its unit function and one entry in `STAGES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from auralith.config import JobConfig

if TYPE_CHECKING:
    from auralith.pipeline.unit import UnitContext, UnitResult

Unit = Literal["job", "partition", "band", "rank", "hash range", "partition range"]


@dataclass(frozen=True)
class Stage:
    """One stage of the graph."""

    name: str  # the `stage` of its partition rows
    task: str  # the Celery task that runs one unit of it (Flower and the logs show this name)
    unit: Unit  # what it fans out over
    queue: str  # the worker pool that runs it
    enabled: Callable[[JobConfig], bool]
    # The input_ref of each unit, from the job's config and its number of process partitions.
    refs: Callable[[JobConfig, int], list[dict]]
    # False where a later stage's rows already count this stage's removals (the dedup decisions: tokenize
    # counts what it drops), so the job's totals count each document once.
    counts_removals: bool = True
    # Whether the job's `limits` (time limits, max_partitions_in_flight) apply: the data stages; a training
    # rank holds a card for as long as it takes.
    throttled: bool = True
    description: str = ""
    # `module:function` that runs one unit, `(UnitContext) -> (counts, output_ref)`. A name, not an import:
    # the graph stays cheap to import (the CLI draws it) and the stage modules may read the graph.
    run: str = ""
    # A stage that runs in rounds: `module:function`, `(JobConfig, its rows) -> [input_ref]`, the units to add once
    # every unit so far is committed ([]: the stage is done). `advance` calls it before the next stage starts.
    more: str = ""

    def unit_function(self) -> Callable[[UnitContext], UnitResult]:
        return _named(self.run)

    def more_function(self) -> Callable[[JobConfig, list], list[dict]]:
        return _named(self.more)


def _named(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _always(cfg: JobConfig) -> bool:
    return True


def _near_dedup(cfg: JobConfig) -> bool:
    return cfg.preprocessing.near_dedup.enabled


def _training(cfg: JobConfig) -> bool:
    return cfg.training is not None


def _mixes(cfg: JobConfig) -> bool:
    return cfg.mixes


def _spills(cfg: JobConfig) -> bool:
    return cfg.spills


def _per_output(cfg: JobConfig, n: int) -> list[dict]:
    return [{"partitions": n} for _ in range(n)]


def _one(cfg: JobConfig, n: int) -> list[dict]:
    return [{"partitions": n}]


def _per_partition(cfg: JobConfig, n: int) -> list[dict]:
    # `partitions`: the hash ranges of the dedup decisions follow from it, and a shuffled output's tokenize units
    # group their documents for all n write units.
    return [{"process_index": i, "partitions": n} for i in range(n)]


def _shards(cfg: JobConfig, n: int) -> int:
    from auralith.pipeline.exact_dedup import dedup_shards  # here: the graph itself stays a cheap import

    return dedup_shards(cfg.preprocessing, n)


def _per_hash_range(cfg: JobConfig, n: int) -> list[dict]:
    shards = _shards(cfg, n)
    return [{"partitions": n, "shard": s, "shards": shards} for s in range(shards)]


def _near_units(cfg: JobConfig, n: int) -> list[dict]:
    # One join for a job of few hash ranges; else the first round of the clusters' search, a unit per range.
    shards = _shards(cfg, n)
    if not cfg.preprocessing.near_dedup.in_rounds(shards):
        return [{"partitions": n}]
    from auralith.pipeline.components import first_units  # here: the graph itself stays a cheap import

    return first_units(n, shards)


def _per_band(cfg: JobConfig, n: int) -> list[dict]:
    # One unit per band and range of its keys: unit b * shards + s.
    shards = _shards(cfg, n)
    bands = range(cfg.preprocessing.near_dedup.num_bands)
    return [{"partitions": n, "band": b, "shard": s, "shards": shards} for b in bands for s in range(shards)]


def _per_rank(cfg: JobConfig, n: int) -> list[dict]:
    from auralith.steps.shards import MANIFEST_NAME
    from auralith.storage import join  # here: the graph itself stays a cheap import

    # The manifest finalize writes: each rank reads it (its share of every global batch).
    return train_refs(str(join(cfg.output.path, MANIFEST_NAME)), cfg)


def train_refs(manifest: str, cfg: JobConfig) -> list[dict]:
    """The input_ref of each training rank: the shards' manifest, and which rank of how many."""
    world = cfg.training.world_size if cfg.training else 1
    return [{"manifest": manifest, "rank": r, "world_size": world} for r in range(world)]


STAGES: tuple[Stage, ...] = (
    # `process` units are planned from the input files (auralith.pipeline.plan), not from a count.
    Stage(
        "process",
        "auralith.process_partition",
        "partition",
        "process",
        _always,
        lambda cfg, n: [],
        description="read, normalise, filter, redact, hash",
        run="auralith.pipeline.process:process_unit",
    ),
    Stage(
        "dedup",
        "auralith.dedup_exact",
        "hash range",
        "dedup",
        _always,
        _per_hash_range,
        counts_removals=False,
        description="exact duplicates across partitions, one hash range each",
        run="auralith.pipeline.exact_dedup:exact_dedup_unit",
    ),
    Stage(
        "minhash",
        "auralith.minhash_band",
        "band",
        "dedup",
        _near_dedup,
        _per_band,
        description="near-duplicate candidates, one LSH band and key range each",
        run="auralith.pipeline.near_dedup:band_unit",
    ),
    Stage(
        "near_dedup",
        "auralith.dedup_near",
        "partition range",
        "dedup",
        _near_dedup,
        _near_units,
        counts_removals=False,
        description="near-duplicate clusters: one join, or rounds over ranges of partitions",
        run="auralith.pipeline.near_dedup:clusters_unit",
        more="auralith.pipeline.components:next_units",
    ),
    Stage(
        "tokenize",
        "auralith.tokenize_partition",
        "partition",
        "tokenize",
        _always,
        _per_partition,
        description="tokenize into shards",
        run="auralith.pipeline.tokenize:tokenize_unit",
    ),
    Stage(
        "mix",
        "auralith.mix_sources",
        "job",
        "default",
        _mixes,
        _one,
        description="the mix: tokens per source, which documents",
        run="auralith.pipeline.mix:mix_unit",
    ),
    Stage(
        "write",
        "auralith.write_output",
        "partition",
        "tokenize",
        _spills,
        _per_output,
        description="write the mixed or shuffled output",
        run="auralith.pipeline.write_output:write_unit",
    ),
    Stage(
        "finalize",
        "auralith.finalize_job",
        "job",
        "default",
        _always,
        _one,
        description="the manifest",
        run="auralith.pipeline.finalize:finalize_unit",
    ),
    Stage(
        "train",
        "auralith.train_model",
        "rank",
        "hpu",
        _training,
        _per_rank,
        throttled=False,
        description="train on the shards",
        run="auralith.pipeline.training:train_unit",
    ),
)

BY_NAME = {s.name: s for s in STAGES}
# One queue per worker pool; `default` also carries the control tasks (run_job, advance, webhooks). `dedup` holds
# the decisions across partitions and the MinHash band tasks: few, memory-bound units a deployment sizes apart.
QUEUES: tuple[str, ...] = tuple(dict.fromkeys(("default", *(s.queue for s in STAGES))))
BY_TASK = {s.task: s for s in STAGES}


def stage(name: str) -> Stage:
    return BY_NAME[name]


def job_stages(cfg: JobConfig) -> list[Stage]:
    """The stages a data job with this config runs, in order."""
    return [s for s in STAGES if s.enabled(cfg)]
