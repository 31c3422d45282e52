"""Near-duplicate clusters found in rounds, each unit holding one range of partitions: no task sees every pair.

With up to `near_dedup.join_max_ranges` hash ranges the `near_dedup` stage is one join of every band's pairs
(`near_dedup.join_clusters`: bounded by that many ranges' pairs). With more, its units each own the graph's nodes
of one range of partitions (`owner`) and run in rounds that `advance` adds while the labels still move
(`next_units`):

    label round 0 (per range)  its nodes' pairs, from the slice of each band file the band tasks sorted by owner;
                               the pairs inside the range joined into groups (minhash/cc/groups-T.json), the
                               others kept (ext-T.npy); each node's label is the smallest (id, node) of its
                               group; every node sends its label to its neighbours in other ranges
    label round r (per range)  each node takes the smallest label it was sent (by id, then node), and its group
                               the smallest of its members'; the nodes whose label moved send it on. No message
                               sent in a round: every component has one label, its smallest (id, node), which is
                               the document the cluster keeps (as in the join)
    finish (per range)         its partitions' drop lists; each cluster's count and first removed members, sent to
                               the owner of the cluster's kept document
    clusters (per range)       the sizes and the biggest of the clusters it owns
    summary (one unit)         the job's figures (the join's) and minhash/clusters.json, from the ranges' results

A unit's time and memory follow its range's share of the near-duplicate graph; the number of rounds follows the
longest path in a cluster counted in crossings between ranges (near copies mostly sit near their originals).
Messages are JSON lines grouped by destination range with a byte index, the exact-dedup hash files' layout, so
each unit reads only its slice of each sender's file (one small read per range: at thousands of ranges, that
fixed cost is what a round costs).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from auralith.errors import InputError
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.train_data_check import check_enough_to_train
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.steps.minhash import NearDedupConfig, connected_components
from auralith.storage.npy import load_npy, read_rows, save_npy

Label = tuple[str, int]  # (id, node): the smallest of a cluster is the document it keeps

LABEL, FINISH, CLUSTERS, SUMMARY = "label", "finish", "clusters", "summary"
EXAMPLES = 5  # removed ids shown per cluster (`removed_examples`)


def owner(nodes: np.ndarray, n_partitions: int, shards: int) -> np.ndarray:
    """The range (unit) that owns each node: ranges of consecutive partitions, as even as `shards` allows."""
    return ((np.asarray(nodes, dtype=np.uint64) >> np.uint64(32)).astype(np.int64) * shards) // n_partitions


def owned_partitions(shard: int, n_partitions: int, shards: int) -> range:
    """The partitions whose nodes range `shard` owns (the inverse of `owner`)."""
    return range(-(-shard * n_partitions // shards), -(-(shard + 1) * n_partitions // shards))


def sort_edges_by_owner(edges: np.ndarray, n_partitions: int, shards: int) -> tuple[np.ndarray, list[int]]:
    """A band task's pairs in both directions, ordered by the owner of their first node, and where each owner's
    slice starts (shards + 1 row offsets): each label unit reads its nodes' edges only."""
    both = np.concatenate([edges, edges[:, ::-1]]) if len(edges) else np.empty((0, 2), dtype=np.uint64)
    own = owner(both[:, 0], n_partitions, shards)
    order = np.argsort(own, kind="stable")
    return both[order], np.searchsorted(own[order], np.arange(shards + 1)).tolist()


def write_segments(files, path, segments: list[list]) -> int:
    """One JSON line per destination range (empty ranges: no bytes) and `path.idx`, the byte offset of each;
    returns how many items were written."""
    offsets = [0]
    with files.atomic_write(path) as fh:
        for items in segments:
            data = (json.dumps(items, separators=(",", ":")) + "\n").encode() if items else b""
            fh.write(data)
            offsets.append(offsets[-1] + len(data))
    files.write_bytes_atomic(f"{path}.idx", json.dumps(offsets).encode())
    return sum(len(s) for s in segments)


def _index(files, path) -> list[int]:
    """The offsets in `path.idx`. Every unit writes its files, empty or not: one missing means this worker does not
    see the others' (no shared work_dir), and going on would silently keep duplicates."""
    try:
        return json.loads(files.read_bytes(f"{path}.idx"))
    except FileNotFoundError:  # an S3 ObjectNotFound is one too
        raise InputError("near-dedup round file missing: do all workers share the work_dir?", file=str(path)) from None


def read_segment(files, path, shard: int) -> list:
    """Range `shard`'s items of a file `write_segments` wrote."""
    offsets = _index(files, path)
    start, end = offsets[shard], offsets[shard + 1]
    if end <= start:
        return []
    with files.open_read(path, start, end, buffer_size=min(1 << 20, end - start)) as fh:
        return json.loads(fh.read(end - start))


def _own_edges(paths: WorkPaths, bands: int, shard: int, shards: int) -> np.ndarray:
    """Every verified pair (u, v) whose u this range owns, once, sorted."""
    files, found = paths.files, []
    for band in range(bands):
        for key_range in range(shards):
            path = paths.edges(band, key_range)
            a, b = _index(files, path)[shard : shard + 2]
            if b > a:
                found.append(read_rows(files, path, np.arange(a, b)))
    if not found:
        return np.empty((0, 2), dtype=np.uint64)
    return np.unique(np.concatenate(found), axis=0)


def _own_ids(paths: WorkPaths, nodes: np.ndarray) -> list[str]:
    """The ids of these nodes (sorted, all of this range), one partition's id list at a time."""
    out: list[str] = []
    parts = (nodes >> np.uint64(32)).astype(np.int64)
    for p in np.unique(parts).tolist():
        ids = json.loads(paths.files.read_bytes(paths.ids(p)))
        out.extend(ids[pos] for pos in (nodes[parts == p] & np.uint64(0xFFFFFFFF)).tolist())
    return out


class LabelState:
    """One range's nodes (sorted) with their ids and current labels; a JSON file per round."""

    def __init__(self, nodes: list[int], ids: list[str], labels: list[Label]):
        self.nodes, self.ids, self.labels = nodes, ids, labels

    def save(self, files, path) -> None:
        lid, lnode = zip(*self.labels, strict=True) if self.labels else ((), ())
        doc = {"nodes": self.nodes, "ids": self.ids, "label_ids": list(lid), "label_nodes": list(lnode)}
        files.write_bytes_atomic(path, json.dumps(doc, separators=(",", ":")).encode())

    @classmethod
    def load(cls, files, path) -> LabelState:
        doc = json.loads(files.read_bytes(path))
        return cls(doc["nodes"], doc["ids"], list(zip(doc["label_ids"], doc["label_nodes"], strict=True)))


def label_round(paths: WorkPaths, n_partitions: int, bands: int, shard: int, shards: int, rnd: int) -> dict[str, int]:
    """One label round of range `shard` (see the module's docstring). Returns its figures: `sent` messages (none
    in every range: the labels are final), `changed` labels, and in round 0 the range's `nodes` and `edges`.

    Pairs with both nodes in the range are joined here, once, into groups (union-find): in each round a group
    takes its smallest label at once, so a path through one range costs no rounds; only the pairs that cross
    ranges carry messages (`ext-T.npy`), and the rounds follow the longest path counted in range crossings."""
    files = paths.files
    ext_path, groups_path = paths.components(f"ext-{shard:04d}.npy"), paths.components(f"groups-{shard:04d}.json")
    if rnd == 0:
        adj = _own_edges(paths, bands, shard, shards)
        nodes = np.unique(adj[:, 0])
        inside = owner(adj[:, 1], n_partitions, shards) == shard
        groups = [np.searchsorted(nodes, c).tolist() for c in connected_components(adj[inside])]
        ext = adj[~inside]
        save_npy(files, ext_path, ext)
        files.write_bytes_atomic(groups_path, json.dumps(groups).encode())
        state = LabelState(nodes.tolist(), _own_ids(paths, nodes), [])
        state.labels = list(zip(state.ids, state.nodes, strict=True))
        moved = np.ones(len(nodes), dtype=bool)  # everyone tells its neighbours its own label first
    else:
        ext = load_npy(files, ext_path, mmap=True)
        groups = json.loads(files.read_bytes(groups_path))
        state = LabelState.load(files, paths.components(f"state-{rnd - 1}-{shard:04d}.json"))
        nodes = np.asarray(state.nodes, dtype=np.uint64)
        at = {node: i for i, node in enumerate(state.nodes)}
        moved = np.zeros(len(nodes), dtype=bool)
        labels = state.labels
        for sender in range(shards):
            for node, lid, lnode in read_segment(files, paths.components(f"msg-{rnd - 1}-{sender:04d}.jsonl"), shard):
                i = at[node]
                if (lid, lnode) < labels[i]:
                    labels[i] = (lid, lnode)
                    moved[i] = True
    labels = state.labels
    for group in groups:
        if rnd == 0 or moved[group].any():
            smallest = min(labels[i] for i in group)
            for i in group:
                if labels[i] != smallest:
                    labels[i] = smallest
                    moved[i] = True
    state.save(files, paths.components(f"state-{rnd}-{shard:04d}.json"))
    # Each moved node's label to each neighbour in another range, grouped by that range.
    rows = np.flatnonzero(np.isin(ext[:, 0], nodes[moved])) if moved.any() else np.empty(0, dtype=np.int64)
    targets = np.asarray(ext[rows, 1])
    source = np.searchsorted(nodes, np.asarray(ext[rows, 0]))
    segments: list[list] = [[] for _ in range(shards)]
    for t, i, to in zip(owner(targets, n_partitions, shards).tolist(), source.tolist(), targets.tolist(), strict=True):
        segments[t].append([to, *labels[i]])
    sent = write_segments(files, paths.components(f"msg-{rnd}-{shard:04d}.jsonl"), segments)
    figures = {"sent": sent, "changed": int(moved.sum()) if rnd else 0}
    if rnd == 0:
        figures |= {"nodes": len(nodes), "edges": len(adj)}
    return figures


def finish(paths: WorkPaths, n_partitions: int, shard: int, shards: int, rnd: int, name_kept: bool) -> dict:
    """Range `shard`'s drop lists from its final labels (round `rnd`), for every partition it owns (an empty list
    where none is dropped: tokenize requires the file), and each cluster's part here sent to the owner of the
    cluster's kept document."""
    files = paths.files
    state = LabelState.load(files, paths.components(f"state-{rnd}-{shard:04d}.json"))
    drops: dict[int, list[int]] = defaultdict(list)
    kept: dict[int, dict[int, str]] = defaultdict(dict)
    members: dict[int, list[Label]] = defaultdict(list)  # cluster (kept node) -> its removed members here
    keeper_id: dict[int, str] = {}
    for node, doc_id, (lid, lnode) in zip(state.nodes, state.ids, state.labels, strict=True):
        keeper_id[lnode] = lid
        if lnode == node:
            members.setdefault(lnode, [])
            continue
        drops[node >> 32].append(node & 0xFFFFFFFF)
        kept[node >> 32][node & 0xFFFFFFFF] = lid
        members[lnode].append((doc_id, node))
    per_partition = {}
    for p in owned_partitions(shard, n_partitions, shards):
        files.write_bytes_atomic(paths.near_drops(p), json.dumps(sorted(drops[p])).encode())
        if name_kept:
            files.write_bytes_atomic(paths.near_drops_kept(p), json.dumps(kept[p], sort_keys=True).encode())
        if drops[p]:
            per_partition[str(p)] = len(drops[p])
    counted = Counter(lnode for _, lnode in state.labels)  # members here, the kept one too where it is here
    segments: list[list] = [[] for _ in range(shards)]
    keepers = np.asarray(sorted(members), dtype=np.uint64)
    for t, lnode in zip(owner(keepers, n_partitions, shards).tolist(), keepers.tolist(), strict=True):
        first = sorted(members[lnode])[:EXAMPLES]
        segments[t].append([lnode, keeper_id[lnode], counted[lnode], [list(m) for m in first]])
    write_segments(files, paths.components(f"parts-{shard:04d}.jsonl"), segments)
    return {"near": sum(len(d) for d in drops.values()), "per_partition_near": per_partition}


def cluster_sizes(paths: WorkPaths, shard: int, shards: int, top: int) -> dict:
    """The clusters whose kept document range `shard` owns: their sizes (a histogram) and the biggest `top`."""
    files = paths.files
    size: Counter[int] = Counter()
    keeper: dict[int, str] = {}
    removed: dict[int, list[Label]] = defaultdict(list)
    for sender in range(shards):
        for lnode, lid, count, first in read_segment(files, paths.components(f"parts-{sender:04d}.jsonl"), shard):
            size[lnode] += count
            keeper[lnode] = lid
            removed[lnode].extend(tuple(m) for m in first)
    biggest = sorted(size, key=lambda c: (-size[c], keeper[c]))[:top]
    report = [cluster_entry(size[c], keeper[c], c, sorted(removed[c])[:EXAMPLES]) for c in biggest]
    files.write_bytes_atomic(paths.components(f"biggest-{shard:04d}.json"), json.dumps(report).encode())
    return {"sizes": {str(k): v for k, v in sorted(Counter(size.values()).items())}, "clusters": len(size)}


def cluster_entry(size: int, kept: str, node: int, removed: Iterable[Label]) -> dict:
    """One cluster of `clusters.json`: its size, the id kept and where it is, the first removed ids."""
    return {
        "size": size,
        "kept": kept,
        "removed_examples": [i for i, _ in removed],
        "kept_at": {"partition": node >> 32, "position": node & 0xFFFFFFFF},
    }


def summary(paths: WorkPaths, rows: list, shards: int, top: int, lsh_threshold: float) -> dict:
    """The stage's figures, as `join_clusters` returns them, from its units' rows and the ranges' biggest
    clusters; writes minhash/clusters.json."""
    files = paths.files
    biggest = [
        c for s in range(shards) for c in json.loads(files.read_bytes(paths.components(f"biggest-{s:04d}.json")))
    ]
    biggest.sort(key=lambda c: (-c["size"], c["kept"]))
    files.write_bytes_atomic(paths.clusters, json.dumps({"clusters": biggest[:top]}, indent=1).encode())
    sizes: Counter[str] = Counter()
    per_partition: dict[str, int] = {}
    clusters = edges = near = 0
    for row in rows:
        ref, c = row.input_ref or {}, row.counts or {}
        if ref.get("phase") == LABEL and ref.get("round") == 0:
            edges += c.get("edges", 0)
        elif ref.get("phase") == FINISH:
            near += c.get("near", 0)
            per_partition.update(c.get("per_partition_near", {}))
        elif ref.get("phase") == CLUSTERS:
            sizes.update(c.get("sizes", {}))
            clusters += c.get("clusters", 0)
    return {
        "removed": {"near_duplicate": near},
        "per_partition_near": dict(sorted(per_partition.items(), key=lambda kv: int(kv[0]))),
        "cluster_sizes": dict(sorted(sizes.items(), key=lambda kv: int(kv[0]))),
        "clusters": clusters,
        "edges": edges // 2,  # each pair is in the edges of both its nodes' ranges
        "lsh_threshold": round(lsh_threshold, 4),
    }


def first_units(n_partitions: int, shards: int) -> list[dict]:
    """The near_dedup stage's units when the job is planned: label round 0 of every range."""
    return [
        {"partitions": n_partitions, "phase": LABEL, "round": 0, "shard": s, "shards": shards} for s in range(shards)
    ]


def next_units(cfg, rows: list) -> list[dict]:
    """Once every unit of the stage so far is committed: the units of its next round, or [] when it is done
    (`Stage.more`; `advance` adds them). Decided from the rows alone, so every caller decides the same."""
    last = max(rows, key=lambda r: r.index)
    ref = dict(last.input_ref or {})
    phase = ref.get("phase")
    if phase is None or phase == SUMMARY:
        return []  # one join (a single hash range), or the summary written
    shards, n = ref["shards"], ref["partitions"]
    base = {"partitions": n, "shards": shards}
    if phase == LABEL:
        rnd = ref["round"]
        this_round = [r for r in rows if (r.input_ref or {}).get("phase") == LABEL and r.input_ref["round"] == rnd]
        sent = sum((r.counts or {}).get("sent", 0) for r in this_round)
        step = {"phase": LABEL, "round": rnd + 1} if sent else {"phase": FINISH, "round": rnd}
        return [{**base, **step, "shard": s} for s in range(shards)]
    if phase == FINISH:
        return [{**base, "phase": CLUSTERS, "shard": s} for s in range(shards)]
    return [{**base, "phase": SUMMARY}]


def run_phase(paths: WorkPaths, ref: dict, near: NearDedupConfig, name_kept: bool, rows: Callable[[], list]) -> dict:
    """One unit of the rounds, by its ref's `phase`; `rows` gives the stage's rows (the summary reads them)."""
    n, shards, phase = ref["partitions"], ref["shards"], ref["phase"]
    if phase == LABEL:
        return label_round(paths, n, near.num_bands, ref["shard"], shards, ref["round"])
    if phase == FINISH:
        return finish(paths, n, ref["shard"], shards, ref["round"], name_kept)
    if phase == CLUSTERS:
        return cluster_sizes(paths, ref["shard"], shards, near.top_clusters)
    return summary(paths, rows(), shards, near.top_clusters, near.lsh_threshold())


def round_unit(unit: UnitContext) -> UnitResult:
    """One unit of the near_dedup stage's rounds."""
    pre = unit.cfg.preprocessing
    counts = run_phase(unit.paths, unit.ref, pre.near_dedup, pre.keep_removed, lambda: unit.rows("near_dedup"))
    if unit.ref["phase"] == SUMMARY:
        exact = [row.counts or {} for row in unit.rows("dedup")]
        near = counts["removed"]["near_duplicate"]
        check_enough_to_train(unit, sum(n for c in exact for n in c.get("removed", {}).values()) + near)
    return counts, None
