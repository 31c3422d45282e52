"""Near-duplicate clusters found in rounds over ranges of partitions give the one join's decisions, byte for byte."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from auralith.pipeline.components import (
    first_units,
    next_units,
    owned_partitions,
    owner,
    run_phase,
    sort_edges_by_owner,
)
from auralith.pipeline.near_dedup import join_clusters
from auralith.pipeline.paths import WorkPaths
from auralith.steps.minhash import NearDedupConfig, node_id
from auralith.storage import Files
from auralith.storage.npy import save_npy


@dataclass
class Row:
    """A partition row as `next_units` and the summary read it."""

    index: int
    input_ref: dict
    counts: dict | None = field(default=None)


def run_rounds(paths: WorkPaths, near: NearDedupConfig, n: int, shards: int, name_kept: bool) -> list[Row]:
    """The near_dedup stage as `advance` runs it: every unit of a round, then the next round's, until none."""
    rows: list[Row] = []
    refs = first_units(n, shards)

    def stage_rows() -> list[Row]:
        return rows

    while refs:
        new = [Row(len(rows) + i, ref) for i, ref in enumerate(refs)]
        rows += new
        for row in reversed(new):  # any order within a round
            row.counts = run_phase(paths, row.input_ref, near, name_kept, stage_rows)
        refs = next_units(None, rows)
    return rows


def graph(rng: random.Random, n: int, per: int) -> tuple[list[list[str]], np.ndarray]:
    """Ids per partition (random strings: the kept one is rarely the first node) and canonical pairs (u < v):
    cliques, stars, a long chain through every partition, and stray pairs."""
    ids = [[f"{rng.randrange(10**6):06d}-{p}-{i}" for i in range(per)] for p in range(n)]
    nodes = [int(node_id(p, i)) for p in range(n) for i in range(per)]
    free = nodes[:]
    rng.shuffle(free)
    pairs: set[tuple[int, int]] = set()

    def link(a: int, b: int) -> None:
        pairs.add((min(a, b), max(a, b)))

    chain = [free.pop() for _ in range(40)]  # 39 hops: many rounds
    for a, b in zip(chain, chain[1:], strict=False):
        link(a, b)
    for _ in range(15):
        clique = [free.pop() for _ in range(rng.randint(2, 6))]
        for i, a in enumerate(clique):
            for b in clique[i + 1 :]:
                link(a, b)
    for _ in range(10):
        hub, spokes = free.pop(), [free.pop() for _ in range(rng.randint(1, 5))]
        for b in spokes:
            link(hub, b)
    for _ in range(30):
        link(*rng.sample(nodes, 2))
    return ids, np.array(sorted(pairs), dtype=np.uint64)


def write_inputs(root: Path | str, ids: list[list[str]], edges: np.ndarray, bands: int, shards: int, rng) -> WorkPaths:
    """Ids files and band edge files as the band tasks write them (each pair in one or more bands)."""
    paths = WorkPaths(root, Files())
    files = paths.files
    for p, part in enumerate(ids):
        files.write_bytes_atomic(paths.ids(p), json.dumps(part).encode())
    where = [[] for _ in range(bands * shards)]
    for e in edges.tolist():
        for cell in rng.sample(range(bands * shards), rng.randint(1, 2)):
            where[cell].append(e)
    for b in range(bands):
        for s in range(shards):
            found = np.array(where[b * shards + s], dtype=np.uint64).reshape(-1, 2)
            if shards == 1:
                save_npy(files, paths.edges(b, s), found)
            else:
                both, offsets = sort_edges_by_owner(found, len(ids), shards)
                save_npy(files, paths.edges(b, s), both)
                files.write_bytes_atomic(f"{paths.edges(b, s)}.idx", json.dumps(offsets).encode())
    return paths


def outputs(paths: WorkPaths, n: int) -> dict[str, bytes]:
    read = paths.files.read_bytes
    got = {"clusters": read(paths.clusters)}
    for p in range(n):
        got[f"drops {p}"] = read(paths.near_drops(p))
        got[f"kept {p}"] = read(paths.near_drops_kept(p))
    return got


@pytest.mark.parametrize("shards", [2, 3, 5])
@pytest.mark.parametrize("seed", [1, 2])
def test_rounds_decide_what_the_join_decides(tmp_path, shards, seed):
    n, bands = 5, 3
    near = NearDedupConfig(enabled=True, num_bands=bands, top_clusters=8)
    ids, edges = graph(random.Random(seed), n, per=60)
    one = write_inputs(tmp_path / "one", ids, edges, bands, 1, random.Random(seed))
    many = write_inputs(tmp_path / "many", ids, edges, bands, shards, random.Random(seed))

    joined = join_clusters(near, one, n, name_kept=True)
    rows = run_rounds(many, near, n, shards, name_kept=True)

    assert rows[-1].input_ref["phase"] == "summary" and rows[-1].counts == joined
    assert outputs(many, n) == outputs(one, n)
    rounds = {r.input_ref["round"] for r in rows if r.input_ref["phase"] == "label"}
    assert 6 <= len(rounds) <= 41  # the 39-hop chain takes rounds; a round with no message ends them


def test_no_pairs_at_all_still_writes_every_drop_list(tmp_path):
    near = NearDedupConfig(enabled=True, num_bands=2)
    ids = [[f"d{p}-{i}" for i in range(3)] for p in range(4)]
    paths = write_inputs(tmp_path, ids, np.empty((0, 2), dtype=np.uint64), 2, 3, random.Random(0))
    rows = run_rounds(paths, near, 4, 3, name_kept=False)
    assert [r.input_ref["phase"] for r in rows] == ["label"] * 3 + ["finish"] * 3 + ["clusters"] * 3 + ["summary"]
    assert rows[-1].counts["removed"] == {"near_duplicate": 0} and rows[-1].counts["clusters"] == 0
    assert all(json.loads(paths.near_drops(p).read_text()) == [] for p in range(4))


def test_a_rerun_unit_writes_the_same_files(tmp_path):
    near = NearDedupConfig(enabled=True, num_bands=2)
    ids, edges = graph(random.Random(3), 4, per=50)
    paths = write_inputs(tmp_path, ids, edges, 2, 3, random.Random(3))
    rows = run_rounds(paths, near, 4, 3, name_kept=True)
    before = outputs(paths, 4)
    cc = sorted((tmp_path / "minhash" / "cc").iterdir())
    files = {f.name: f.read_bytes() for f in cc}
    for row in rows:  # every unit again, as after a crash between its output and its commit
        assert run_phase(paths, row.input_ref, near, True, lambda: rows) == row.counts
    assert outputs(paths, 4) == before
    assert {f.name: f.read_bytes() for f in cc} == files


def test_each_range_owns_consecutive_partitions():
    for n in (1, 3, 7, 100):
        for shards in range(1, min(n, 9) + 1):
            owned = [list(owned_partitions(s, n, shards)) for s in range(shards)]
            assert [p for part in owned for p in part] == list(range(n)) and all(owned)
            nodes = np.array([int(node_id(p, 5)) for p in range(n)], dtype=np.uint64)
            assert [s for s, part in enumerate(owned) for _ in part] == owner(nodes, n, shards).tolist()


def test_an_s3_work_dir_gives_the_decisions_of_a_local_one(tmp_path, bucket):
    near = NearDedupConfig(enabled=True, num_bands=2, top_clusters=5)
    ids, edges = graph(random.Random(4), 4, per=40)
    local = write_inputs(tmp_path, ids, edges, 2, 3, random.Random(4))
    remote = write_inputs(f"s3://{bucket}/work", ids, edges, 2, 3, random.Random(4))
    assert [r.counts for r in run_rounds(remote, near, 4, 3, True)] == [
        r.counts for r in run_rounds(local, near, 4, 3, True)
    ]
    assert outputs(remote, 4) == outputs(local, 4)


def test_a_missing_round_file_is_an_input_error_not_an_empty_round(tmp_path):
    from auralith.errors import InputError

    near = NearDedupConfig(enabled=True, num_bands=2)
    ids, edges = graph(random.Random(5), 4, per=60)
    paths = write_inputs(tmp_path, ids, edges, 2, 3, random.Random(5))
    run_phase(paths, first_units(4, 3)[0], near, False, list)
    with pytest.raises(InputError, match="do all workers share the work_dir"):  # ranges 1 and 2 never ran here
        run_phase(paths, {**first_units(4, 3)[0], "round": 1}, near, False, list)
