"""Exact duplicates across partitions: per hash range, a streaming merge of that range of every partition's
hash-sorted file, and the drops the tokenize stage reads."""

from __future__ import annotations

import heapq
import json
import resource
from array import array
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path

import numpy as np

from auralith.config.preprocessing import PreprocessingConfig
from auralith.errors import InputError
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.train_data_check import check_enough_to_train
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.steps.dedup import HashRecord, exact_duplicate_pairs
from auralith.storage.npy import load_npy, save_npy

# Hashes are 32 hex digits; the first 3 (4096 prefixes) index each partition's sorted hash file, so a task can
# read one hash range of every partition with one ranged read each. At most this many dedup tasks.
HASH_GRID = 4096
_PREFIX = 3


def dedup_shards(pre: PreprocessingConfig, n_partitions: int) -> int:
    """How many hash ranges (tasks) the dedup decisions of a job of `n_partitions` partitions are cut into."""
    return max(1, min(HASH_GRID, -(-n_partitions // pre.dedup_task_partitions)))


def shard_prefixes(shard: int, shards: int) -> tuple[int, int]:
    """The hash prefixes [lo, hi) of one of `shards` ranges of the grid."""
    return shard * HASH_GRID // shards, (shard + 1) * HASH_GRID // shards


def write_hashes(paths: WorkPaths, index: int, hashes: list[tuple[str, str, int]]) -> None:
    """One partition's (hash, id, position) records sorted by hash, as JSON lines, and the byte offset of each
    hash prefix in it (`hash_index`), so each dedup task reads only its range."""
    hashes.sort()
    files = paths.files
    offsets = np.zeros(HASH_GRID + 1, dtype="<u8")
    with files.atomic_write(paths.hashes(index)) as fh:
        for h, i, pos in hashes:
            line = json.dumps({"h": h, "id": i, "pos": pos}).encode() + b"\n"
            offsets[int(h[:_PREFIX], 16) + 1] += len(line)
            fh.write(line)
    files.write_bytes_atomic(paths.hash_index(index), np.cumsum(offsets, dtype="<u8").tobytes())


def _hash_range(paths: WorkPaths, p: int, lo: int, hi: int) -> tuple[int, int]:
    """Bytes [start, end) of partition p's hash file that hold prefixes [lo, hi): two values of its index."""
    with paths.files.open_read(paths.hash_index(p), lo * 8, (hi + 1) * 8, buffer_size=1 << 12) as fh:
        grid = np.frombuffer(fh.read((hi - lo + 1) * 8), dtype="<u8")
    return int(grid[0]), int(grid[-1])


def decide_dedup(paths: WorkPaths, n_partitions: int, name_kept: bool = False, shard: int = 0, shards: int = 1) -> dict:
    """One hash range's decision: merge that range of every partition's hash-sorted file, keep one document per
    hash, write the drops (`exact_drops(shard)`: node ids). Every copy of a text has the same hash, so each run
    of copies lies in one range and the decision is the one a single merge of everything makes. Memory holds one
    open reader per partition and this range's drops; time is the range's share of the corpus.

    `name_kept` (keep_removed) also writes the id of the copy kept for each drop (`exact_kept(shard)`)."""
    _allow_open_files(n_partitions + 64)
    files = paths.files
    lo, hi = shard_prefixes(shard, shards)

    def stream(p: int) -> Iterator[HashRecord]:
        start, end = _hash_range(paths, p, lo, hi)
        if end <= start:
            return
        left = end - start
        with files.open_read(paths.hashes(p), start, end, buffer_size=1 << 16) as fh:
            for line in fh:  # a local file does not stop at `end` by itself
                rec = json.loads(line)
                yield HashRecord(rec["h"], rec["id"], p, rec["pos"])
                left -= len(line)
                if left <= 0:
                    break

    merged = heapq.merge(*(stream(p) for p in range(n_partitions)), key=attrgetter("hash"))
    drops = array("Q")  # 8 bytes a dropped document, not a Python int's ~36
    kept: dict[str, str] = {}
    for rec, keep in exact_duplicate_pairs(merged):
        node = (rec.partition << 32) | rec.position
        drops.append(node)
        if name_kept:
            kept[str(node)] = keep.doc_id
    nodes = np.sort(np.frombuffer(drops, dtype=np.uint64)) if drops else np.empty(0, dtype=np.uint64)
    save_npy(files, paths.exact_drops(shard), nodes)
    if name_kept:
        files.write_bytes_atomic(paths.exact_kept(shard), json.dumps(kept, sort_keys=True).encode())
    return {"removed": {"exact_duplicate": len(nodes)}, "shard": shard, "of": shards}


def _allow_open_files(needed: int) -> None:
    # The merge keeps one file open per partition; the soft limit is often 1024 while the hard one is higher.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard), hard)
        )


def read_drops(paths: WorkPaths, index: int, required: bool = True, shards: int = 1) -> set[int]:
    """Positions of one partition's clean file that exact dedup dropped, from the drops of each of the job's
    `shards` hash ranges (a slice of each sorted file: a memory map locally).

    With dedup on, a missing file means this worker does not see the dedup worker's files (no shared
    filesystem): failing beats writing shards that silently keep the duplicates.
    """
    found: set[int] = set()
    for s in range(shards):
        path = paths.exact_drops(s)
        if not paths.files.exists(path):
            if required:
                raise InputError("dedup drop list missing: do all workers share the work_dir?", file=str(path))
            continue
        found.update(partition_slice(load_npy(paths.files, path, mmap=True), index).tolist())
    return found


def partition_slice(nodes: np.ndarray, index: int) -> np.ndarray:
    """The positions of partition `index` in a sorted array of node ids."""
    a, b = np.searchsorted(nodes, np.uint64(index << 32)), np.searchsorted(nodes, np.uint64((index + 1) << 32))
    return (np.asarray(nodes[a:b]) & np.uint64(0xFFFFFFFF)).astype(np.int64)


def exact_losers(paths: WorkPaths, shards: int) -> np.ndarray:
    """Every node exact dedup drops, sorted (near dedup leaves them out of its graph)."""
    parts = [
        load_npy(paths.files, paths.exact_drops(s)) for s in range(shards) if paths.files.exists(paths.exact_drops(s))
    ]
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)


def read_exact_kept(paths: WorkPaths, index: int, shards: int) -> dict[int, str]:
    """{position: id of the copy kept} for each exact drop of one partition (keep_removed)."""
    kept: dict[int, str] = {}
    for s in range(shards):
        for node, doc_id in json.loads(paths.files.read_bytes(paths.exact_kept(s))).items():
            if int(node) >> 32 == index:
                kept[int(node) & 0xFFFFFFFF] = doc_id
    return kept


def read_kept_ids(files, path: str | Path) -> dict[int, str]:
    """{position: id of the copy kept} of one partition (a `drops_kept` or `near_drops_kept` file)."""
    return {int(pos): doc_id for pos, doc_id in json.loads(files.read_bytes(path)).items()}


def exact_dedup_unit(unit: UnitContext) -> UnitResult:
    """The dedup stage's unit: the exact duplicates of one hash range, across every partition."""
    pre, ref = unit.cfg.preprocessing, unit.ref
    counts: dict = {"removed": {}}
    if pre.exact_dedup:
        counts = decide_dedup(
            unit.paths, ref["partitions"], pre.keep_removed, ref.get("shard", 0), ref.get("shards", 1)
        )
    check_enough_to_train(unit, duplicates=sum(counts["removed"].values()))
    return counts, None
