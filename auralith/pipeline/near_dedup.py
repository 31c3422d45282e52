"""Near-duplicate removal across partitions, run without Celery: signature files, band tasks, the join.

    process partition i  -> minhash/sig/i.npy (n x hashes), minhash/bands/i.{keys,pos}.npy (bands x m,
                            each band sorted by key), minhash/ids/i.json
                            minhash/shingles/i.{u32,off.npy}: each document's shingle set (auralith.pipeline.shingles)
    band task (b, s)     -> minhash/edges/b-s.npy: candidate pairs from key range s of band b, verified by
                            their exact Jaccard
    join (one unit)      -> dedup/i.near.json per partition, minhash/clusters.json, cluster counts
                            (above join_max_ranges hash ranges: rounds of units, auralith.pipeline.components)

Exact dedup is decided first; its losers are left out of the graph, so a document is removed once, as
`exact_duplicate` or as `near_duplicate`. A band task reads one range of one band's keys of each partition
(each band file is sorted, so a range is contiguous; there are as many ranges as exact-dedup hash ranges), one
slice at a time: its memory is bounded by `bucket_slice_entries`, its time by its range, not by the corpus.

Every file goes through the job's `Files` (`WorkPaths.files`), so the work dir may be local or `s3://`: local
band and signature files are memory-mapped as before; on S3 only the band row or the signature rows a task
needs are fetched (see auralith/storage/npy.py for why).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter

import numpy as np

from auralith.pipeline.components import EXAMPLES, cluster_entry, round_unit, sort_edges_by_owner
from auralith.pipeline.exact_dedup import dedup_shards, exact_losers
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.shingles import ShingleWriter, exact_edge_jaccard
from auralith.pipeline.throttle import ProgressFn, Throttle
from auralith.pipeline.train_data_check import check_enough_to_train
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.steps.minhash import (
    EMPTY,
    MinHasher,
    NearDedupConfig,
    band_keys,
    bucket_edges,
    bucket_pairs,
    connected_components,
    estimated_jaccard,
    node_id,
)
from auralith.storage.npy import load_npy, read_header, read_rows, row_file, save_npy


class SignatureWriter:
    """Collects one partition's kept documents' signatures, by position in its clean file, and writes
    the signature, band-key and id files at `close()`. Holds ~hashes x 8 bytes per kept document."""

    BATCH = 256

    def __init__(self, cfg: NearDedupConfig, paths: WorkPaths, index: int):
        self.cfg, self.paths, self.index = cfg, paths, index
        self.hasher = MinHasher.from_config(cfg)
        self.shingles = ShingleWriter(paths, index) if cfg.keeps_shingles else None
        self.ids: list[str] = []
        self.pending: list[str] = []
        self.done: list[np.ndarray] = []

    def add(self, position: int, doc_id: str, text: str) -> None:
        if position != len(self.ids):
            raise ValueError(f"signature for position {position} out of order (expected {len(self.ids)})")
        self.ids.append(doc_id)
        self.pending.append(text)
        if len(self.pending) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            shingles = [self.hasher.shingle_hashes(t) for t in self.pending]
            self.done.append(self.hasher.signatures_of(shingles))
            if self.shingles is not None:
                self.shingles.add(shingles)
            self.pending.clear()

    def close(self) -> dict:
        """Write the files (each atomically); returns counts for the partition row."""
        self._flush()
        cfg = self.cfg
        sig = np.concatenate(self.done) if self.done else np.empty((0, cfg.num_hashes), dtype=np.uint64)
        self.done.clear()
        has_words = np.flatnonzero(sig[:, 0] != EMPTY).astype(np.uint32)
        keys = band_keys(sig[has_words], cfg.num_bands, cfg.rows_per_band, cfg.seed)
        order = np.argsort(keys, axis=1, kind="stable")
        paths, files = self.paths, self.paths.files
        save_npy(files, paths.signatures(self.index), sig)
        save_npy(files, paths.band_keys(self.index), np.take_along_axis(keys, order, axis=1))
        save_npy(files, paths.band_positions(self.index), has_words[order])
        files.write_bytes_atomic(paths.ids(self.index), json.dumps(self.ids).encode())
        if self.shingles is not None:
            self.shingles.close()
        return {"signatures": len(sig), "without_words": len(sig) - len(has_words)}


def _slice_bounds(lo: int, hi: int, n_slices: int) -> list[tuple[int, int | None]]:
    """`n_slices` ranges of keys covering [lo, hi) (hi = 2^64: None, the end)."""
    step = (hi - lo) // n_slices
    return [
        (lo + k * step, lo + (k + 1) * step if k < n_slices - 1 else (hi if hi < 2**64 else None))
        for k in range(n_slices)
    ]


def find_band_edges(
    cfg: NearDedupConfig,
    paths: WorkPaths,
    n_partitions: int,
    band: int,
    progress: ProgressFn | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict:
    """One band task: bucket one range of band `band`'s keys (the `shard`-th of `shards`) of every partition,
    write the verified candidate pairs. Every copy of a bucket's key lies in one range, so the ranges together
    find what one task over the whole band would, and each reads only its share of the corpus.

    Returns counts (candidates = pairs sharing a bucket, edges = those kept after verification).
    """
    files = paths.files
    losers = exact_losers(paths, shards)
    lo, hi = shard * 2**64 // shards, (shard + 1) * 2**64 // shards
    total = sum(read_header(files, paths.band_keys(p)).shape[1] for p in range(n_partitions))
    # Keys are uniform hashes: this range holds about total / shards of them.
    n_slices = max(1, -(-total // (shards * cfg.bucket_slice_entries)))
    report = Throttle(progress)
    candidates = 0
    found: list[np.ndarray] = []
    # On S3, each partition's band row is fetched once into this task's own temp folder (removed at the
    # end) and memory-mapped from there; local files are mapped in place and the folder stays empty.
    with tempfile.TemporaryDirectory(prefix="auralith-band-") as tmp:
        rows = [
            (row_file(files, paths.band_keys(p), band, tmp), row_file(files, paths.band_positions(p), band, tmp))
            for p in range(n_partitions)
        ]
        for s, (a_key, b_key) in enumerate(_slice_bounds(lo, hi, n_slices)):
            keys, nodes = [], []
            for p, (kb, pb) in enumerate(rows):
                # Copy the slice out of the map: only this slice's pages are ever resident.
                a = int(np.searchsorted(kb, np.uint64(a_key), "left"))
                b = len(kb) if b_key is None else int(np.searchsorted(kb, np.uint64(b_key), "left"))
                if b > a:
                    keys.append(np.array(kb[a:b]))
                    nodes.append(node_id(np.full(b - a, p, dtype=np.uint64), np.array(pb[a:b], dtype=np.uint64)))
            if not keys:
                continue
            k, v = np.concatenate(keys), np.concatenate(nodes)
            if len(losers):
                keep = ~np.isin(v, losers, assume_unique=False)
                k, v = k[keep], v[keep]
            # Exact verification compares every pair of a bucket (see bucket_pairs); the estimate, its star.
            edges = bucket_pairs(k, v) if cfg.keeps_shingles else bucket_edges(k, v)
            candidates += len(edges)
            if cfg.verify and len(edges):
                similarity = exact_edge_jaccard(paths, edges) if cfg.keeps_shingles else verify_edges(paths, edges)
                edges = edges[similarity >= cfg.threshold]
            found.append(edges)
            report({"slices": s + 1, "of": n_slices, "candidates": candidates})
    edges = np.concatenate(found) if found else np.empty((0, 2), dtype=np.uint64)
    # Clusters found in rounds (auralith.pipeline.components): each range of partitions reads its slice.
    if cfg.in_rounds(shards):
        both, offsets = sort_edges_by_owner(edges, n_partitions, shards)
        save_npy(files, paths.edges(band, shard), both)
        files.write_bytes_atomic(f"{paths.edges(band, shard)}.idx", json.dumps(offsets).encode())
    else:
        save_npy(files, paths.edges(band, shard), edges)
    return {"band": band, "keys": total, "slices": n_slices, "candidates": candidates, "edges": len(edges)}


def verify_edges(paths: WorkPaths, edges: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each pair over the full signatures, read row by row from the partitions'
    signature files (only the rows of candidates are loaded: mapped locally, ranged reads on S3)."""
    uniq, inverse = np.unique(edges.reshape(-1), return_inverse=True)
    sigs = None
    parts = (uniq >> np.uint64(32)).astype(np.int64)
    for p in np.unique(parts):
        mask = parts == p
        rows = (uniq[mask] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        got = read_rows(paths.files, paths.signatures(int(p)), rows)  # ascending: `uniq` is sorted
        if sigs is None:
            sigs = np.empty((len(uniq), got.shape[1]), dtype=np.uint64)
        sigs[mask] = got
    assert sigs is not None, "verify_edges needs at least one edge"
    pair = inverse.reshape(-1, 2)
    return estimated_jaccard(sigs[pair[:, 0]], sigs[pair[:, 1]])


def _keeper_order(paths: WorkPaths, clusters: list[np.ndarray]) -> list[list[tuple[str, int]]]:
    """Each cluster's members as (id, node), smallest id first (ties: input order), reading one
    partition's id list at a time."""
    members: list[list[tuple[str, int]]] = [[] for _ in clusters]
    by_part: dict[int, list[tuple[int, int]]] = {}
    for c, nodes in enumerate(clusters):
        for node in nodes.tolist():
            by_part.setdefault(node >> 32, []).append((c, node))
    for p in sorted(by_part):
        ids = json.loads(paths.files.read_bytes(paths.ids(p)))
        for c, node in by_part[p]:
            members[c].append((ids[node & 0xFFFFFFFF], node))
    for m in members:
        m.sort()
    return members


def join_clusters(
    cfg: NearDedupConfig, paths: WorkPaths, n_partitions: int, name_kept: bool = False, shards: int = 1
) -> dict:
    """The chord body: union-find over every band's edges, keep the smallest id of each cluster, write
    per-partition near drop lists and the biggest clusters. Returns the dedup row's counts.

    `name_kept` (keep_removed) also writes, per partition, the id kept for each drop (`near_drops_kept`)."""
    files = paths.files
    parts = [load_npy(files, paths.edges(b, s)) for b in range(cfg.num_bands) for s in range(shards)]
    edges = np.unique(np.concatenate(parts), axis=0) if parts else np.empty((0, 2), dtype=np.uint64)
    members = _keeper_order(paths, connected_components(edges))
    drops: list[list[int]] = [[] for _ in range(n_partitions)]
    kept: list[dict[int, str]] = [{} for _ in range(n_partitions)]
    for cluster in members:
        for _, node in cluster[1:]:
            drops[node >> 32].append(node & 0xFFFFFFFF)
            if name_kept:
                kept[node >> 32][node & 0xFFFFFFFF] = cluster[0][0]
    for p, positions in enumerate(drops):
        files.write_bytes_atomic(paths.near_drops(p), json.dumps(sorted(positions)).encode())
        if name_kept:
            files.write_bytes_atomic(paths.near_drops_kept(p), json.dumps(kept[p], sort_keys=True).encode())
    sizes = Counter(len(m) for m in members)
    biggest = sorted(members, key=lambda m: (-len(m), m[0][0]))[: cfg.top_clusters]
    report = [cluster_entry(len(m), m[0][0], m[0][1], m[1 : 1 + EXAMPLES]) for m in biggest]
    files.write_bytes_atomic(paths.clusters, json.dumps({"clusters": report}, indent=1).encode())
    near = sum(len(d) for d in drops)
    return {
        "removed": {"near_duplicate": near},
        "per_partition_near": {str(p): len(v) for p, v in enumerate(drops) if v},
        "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        "clusters": len(members),
        "edges": len(edges),
        "lsh_threshold": round(cfg.lsh_threshold(), 4),
    }


def read_near_drops(work: WorkPaths, index: int) -> set[int]:
    """Positions of one partition's clean file that near dedup dropped; the list must exist."""
    from auralith.errors import InputError

    path = work.near_drops(index)
    if not work.files.exists(path):
        raise InputError("near-dedup drop list missing: do all workers share the work_dir?", file=str(path))
    return set(json.loads(work.files.read_bytes(path)))


def band_unit(unit: UnitContext) -> UnitResult:
    """The minhash stage's unit: one LSH band over every partition."""
    near, ref = unit.cfg.preprocessing.near_dedup, unit.ref
    band, shard, shards = ref.get("band", unit.index), ref.get("shard", 0), ref.get("shards", 1)
    return find_band_edges(near, unit.paths, ref["partitions"], band, unit.progress, shard, shards), None


def clusters_unit(unit: UnitContext) -> UnitResult:
    """A unit of the near_dedup stage: for a job of few hash ranges, every band's pairs joined into clusters and
    the drop lists; for a bigger one, one unit of its rounds (auralith.pipeline.components)."""
    if "phase" in unit.ref:
        return round_unit(unit)
    pre = unit.cfg.preprocessing
    n = unit.ref["partitions"]
    counts = join_clusters(pre.near_dedup, unit.paths, n, pre.keep_removed, dedup_shards(pre, n))
    exact = [row.counts or {} for row in unit.rows("dedup")]
    duplicates = sum(n for c in exact for n in c.get("removed", {}).values()) + counts["removed"]["near_duplicate"]
    check_enough_to_train(unit, duplicates)
    return counts, None
