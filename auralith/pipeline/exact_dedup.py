"""Exact duplicates across partitions: one streaming merge of every partition's hash-sorted file,
and the drop lists the tokenize stage reads."""

from __future__ import annotations

import heapq
import json
import resource
from array import array
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path

from auralith.errors import InputError
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.train_data_check import check_enough_to_train
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.steps.dedup import HashRecord, exact_duplicate_pairs


def decide_dedup(paths: WorkPaths, n_partitions: int, name_kept: bool = False) -> dict:
    """Merge every partition's hash-sorted file, keep one document per hash, write a drop list per
    partition. Memory holds one open reader per partition and the drop lists, not the corpus's hashes.

    `name_kept` (keep_removed) also writes, per partition, the id of the copy kept for each drop (`drops_kept`),
    holding those ids in memory meanwhile."""
    _allow_open_files(n_partitions + 64)
    files = paths.files

    def stream(p: int) -> Iterator[HashRecord]:
        with files.open_read(paths.hashes(p), buffer_size=1 << 16) as fh:
            for line in fh:
                rec = json.loads(line)
                yield HashRecord(rec["h"], rec["id"], p, rec["pos"])

    merged = heapq.merge(*(stream(p) for p in range(n_partitions)), key=attrgetter("hash"))
    drops = [array("q") for _ in range(n_partitions)]  # 8 bytes a dropped document, not a Python int's ~36
    kept: list[dict[int, str]] = [{} for _ in range(n_partitions)]
    for rec, keep in exact_duplicate_pairs(merged):
        drops[rec.partition].append(rec.position)
        if name_kept:
            kept[rec.partition][rec.position] = keep.doc_id
    for p, positions in enumerate(drops):
        files.write_bytes_atomic(paths.drops(p), json.dumps(sorted(positions)).encode())
        if name_kept:
            files.write_bytes_atomic(paths.drops_kept(p), json.dumps(kept[p], sort_keys=True).encode())
    return {
        "removed": {"exact_duplicate": sum(len(v) for v in drops)},
        "per_partition": {str(p): len(v) for p, v in enumerate(drops) if v},
    }


def _allow_open_files(needed: int) -> None:
    # The merge keeps one file open per partition; the soft limit is often 1024 while the hard one is higher.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard), hard)
        )


def read_drops(paths: WorkPaths, index: int, required: bool = True) -> set[int]:
    """Positions of one partition's clean file that dedup dropped.

    With dedup on, a missing list means this worker does not see the dedup worker's files (no shared
    filesystem): failing beats writing shards that silently keep the duplicates.
    """
    path = paths.drops(index)
    if paths.files.exists(path):
        return set(json.loads(paths.files.read_bytes(path)))
    if required:
        raise InputError("dedup drop list missing: do all workers share the work_dir?", file=str(path))
    return set()


def read_kept_ids(files, path: str | Path) -> dict[int, str]:
    """{position: id of the copy kept} of one partition (a `drops_kept` or `near_drops_kept` file)."""
    return {int(pos): doc_id for pos, doc_id in json.loads(files.read_bytes(path)).items()}


def exact_dedup_unit(unit: UnitContext) -> UnitResult:
    """The dedup stage's one unit: the drop lists of exact duplicates across every partition."""
    pre = unit.cfg.preprocessing
    counts = decide_dedup(unit.paths, unit.ref["partitions"], pre.keep_removed) if pre.exact_dedup else {"removed": {}}
    check_enough_to_train(unit, duplicates=sum(counts["removed"].values()))
    return counts, None
