"""Near dedup across partitions through the runners, without Celery: process -> exact -> bands -> join
-> tokenize, with the accounting of every document."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from auralith.config import parse_config
from auralith.errors import InputError
from auralith.pipeline.exact_dedup import decide_dedup, read_drops
from auralith.pipeline.near_dedup import (
    find_band_edges,
    join_clusters,
    read_near_drops,
)
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.plan import plan_partitions
from auralith.pipeline.process import process_partition
from auralith.pipeline.tokenize import read_kept_ids_of, tokenize_partition
from auralith.sources.readers import iter_jsonl_zst
from auralith.storage import Files
from tests.corpus import write_jsonl
from tests.steps.test_minhash import edit as edit_words
from tests.steps.test_minhash import jaccard, real_documents, word_ngrams


def near_corpus(data: Path) -> dict[str, set[str]]:
    """Three files (one partition each) with near copies across them; returns the ids each reason drops."""
    rng = random.Random(5)
    base = list(dict.fromkeys(real_documents(min_words=150)))[:50]  # some docstrings repeat: distinct ones

    def edit(text: str, rate: float, rng: random.Random) -> str:
        while (copy := edit_words(text, rate, rng)) == text:  # at least one word changed
            pass
        return copy

    a = [{"id": f"b{i:03d}", "text": t} for i, t in enumerate(base[:25])]
    b = [{"id": f"b{i:03d}", "text": t} for i, t in enumerate(base[25:], start=25)]
    near = {i: edit(base[i], 0.004, rng) for i in range(10)}
    far = {i: edit(base[10 + i], 0.2, rng) for i in range(5)}
    chain1 = edit(base[40], 0.003, rng)
    chain2 = edit(chain1, 0.003, rng)
    smaller = edit(base[30], 0.004, rng)
    for t, orig in [*((near[i], base[i]) for i in near), (chain1, base[40]), (smaller, base[30])]:
        assert jaccard(word_ngrams(t, 5), word_ngrams(orig, 5)) >= 0.9
    for i, t in far.items():
        assert jaccard(word_ngrams(t, 5), word_ngrams(base[10 + i], 5)) <= 0.5
    c = [
        *({"id": f"n{i:03d}", "text": t} for i, t in near.items()),
        *({"id": f"f{i:03d}", "text": t} for i, t in far.items()),
        {"id": "x000", "text": base[20]},  # exact copy of b020
        {"id": "y000", "text": near[0]},  # exact copy of n000, itself a near copy of b000
        {"id": "c001", "text": chain1},
        {"id": "c002", "text": chain2},  # b040 -> c001 -> c002
        {"id": "a000", "text": smaller},
    ]  # a near copy of b030 with a smaller id: b030 goes
    for name, rows in (("a", a), ("b", b), ("c", c)):
        write_jsonl(data / f"{name}.jsonl", rows)
    return {
        "exact_duplicate": {"x000", "y000"},
        "near_duplicate": {*(f"n{i:03d}" for i in near), "c001", "c002", "b030"},
    }


def make_job(tmp_path: Path, tokenizer_path: Path, work_dir: str = "work", **near):
    expected = near_corpus(tmp_path / "data")
    cfg = parse_config(
        {
            "sources": {"path": "data/*.jsonl"},
            "partition_size_mb": (tmp_path / "data" / "a.jsonl").stat().st_size / 2**20,
            "taper_partitions": False,  # a partition per file
            "work_dir": work_dir,
            # Docstrings, not web text: the quality filters (tested on their own) would remove most of them.
            "preprocessing": {"near_dedup": {"enabled": True, **near}, "quality": {"enabled": False}},
            "tokenization": {"tokenizer": str(tokenizer_path)},
            "output": {"path": "out"},
        },
        base_dir=tmp_path,
    )
    plan = plan_partitions(cfg)
    assert len(plan) == 3
    return cfg, plan, WorkPaths.for_job(cfg, "job-n"), expected


def run_near(cfg, plan, work: WorkPaths):
    processed = [process_partition(cfg, pieces, work, i) for i, pieces in enumerate(plan)]
    near = cfg.preprocessing.near_dedup
    if cfg.preprocessing.exact_dedup:
        decide_dedup(work, len(plan))
    bands = [find_band_edges(near, work, len(plan), b) for b in range(near.num_bands)]
    joined = join_clusters(near, work, len(plan))
    tokenized = [
        tokenize_partition(cfg, work, i, read_drops(work, i, required=False), near_positions=read_near_drops(work, i))[
            0
        ]
        for i in range(len(plan))
    ]
    return processed, bands, joined, tokenized


def dropped_ids(work: WorkPaths, n: int) -> dict[str, set[str]]:
    paths = work
    out: dict[str, set[str]] = {"exact_duplicate": set(), "near_duplicate": set()}
    for p in range(n):
        ids = json.loads(work.files.read_bytes(paths.ids(p)))
        out["exact_duplicate"] |= {ids[i] for i in read_drops(work, p, required=False)}
        out["near_duplicate"] |= {ids[i] for i in read_near_drops(work, p)}
    return out


def test_near_copies_across_partitions_are_removed_once_with_their_reason(tmp_path, tokenizer_path):
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path)
    processed, bands, joined, tokenized = run_near(cfg, plan, work)

    assert dropped_ids(work, len(plan)) == expected
    records = sum(c["records"] for c in processed)
    kept = sum(c["kept"] for c in tokenized)
    removed: dict[str, int] = {}
    for c in [*processed, *tokenized]:
        for reason, n in c["removed"].items():
            removed[reason] = removed.get(reason, 0) + n
    assert records == 70 and records == kept + sum(removed.values())
    assert removed == {"exact_duplicate": 2, "near_duplicate": 13}
    assert joined["removed"] == {"near_duplicate": removed["near_duplicate"]}
    # Clusters: (b00i, n00i) for i < 10 (y000 is out, as n000's exact copy), (a000, b030), b040-c001-c002.
    assert joined["cluster_sizes"] == {"2": 11, "3": 1}
    assert sum(b["candidates"] for b in bands) >= joined["edges"]
    biggest = json.loads(work.clusters.read_bytes())["clusters"][0]
    assert biggest["size"] == 3 and biggest["kept"] == "b040" and biggest["removed_examples"] == ["c001", "c002"]


def test_band_slices_and_reruns_give_the_same_edges(tmp_path, tokenizer_path):
    cfg, plan, work, _ = make_job(tmp_path, tokenizer_path, bucket_slice_entries=10)
    for i, pieces in enumerate(plan):
        process_partition(cfg, pieces, work, i)
    decide_dedup(work, len(plan))
    near = cfg.preprocessing.near_dedup
    paths = work
    counts = find_band_edges(near, work, len(plan), 3)
    assert counts["keys"] == 70 and counts["slices"] == 7  # every document has words: 70 keys, 10 a slice
    sliced = np.load(paths.edges(3))
    find_band_edges(near.model_copy(update={"bucket_slice_entries": 10_000}), work, len(plan), 3)
    whole = np.load(paths.edges(3))
    assert sorted(map(tuple, sliced.tolist())) == sorted(map(tuple, whole.tolist())) and len(whole) > 0


def test_unverified_candidates_keep_every_bucket_pair(tmp_path, tokenizer_path):
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path, verify=False)
    run_near(cfg, plan, work)
    assert dropped_ids(work, len(plan))["near_duplicate"] >= expected["near_duplicate"]


def test_near_dedup_without_exact_dedup(tmp_path, tokenizer_path):
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path)
    cfg = cfg.model_copy(update={"preprocessing": cfg.preprocessing.model_copy(update={"exact_dedup": False})})
    run_near(cfg, plan, work)
    got = dropped_ids(work, len(plan))
    # Exact copies are near copies too (Jaccard 1): y000 joins n000's cluster, x000 joins b020's.
    assert got["exact_duplicate"] == set()
    assert got["near_duplicate"] == expected["near_duplicate"] | {"x000", "y000"}


def test_a_missing_near_drop_list_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="near-dedup drop list missing"):
        read_near_drops(WorkPaths(tmp_path, Files()), 4)


def test_an_s3_work_dir_gives_the_decisions_of_a_local_one(tmp_path, tokenizer_path, bucket):
    # Small slices: several ranged band-row reads and verifications per band task.
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path, bucket_slice_entries=20)
    local = run_near(cfg, plan, work)
    s3_cfg = cfg.model_copy(
        update={
            "work_dir": f"s3://{bucket}/work",
            "output": cfg.output.model_copy(update={"path": f"s3://{bucket}/out"}),
        }
    )
    s3_work = WorkPaths.for_job(s3_cfg, "job-n")
    remote = run_near(s3_cfg, plan, s3_work)

    assert remote == local
    assert dropped_ids(s3_work, len(plan)) == dropped_ids(work, len(plan)) == expected
    paths, s3_paths = work, s3_work
    for p in range(len(plan)):
        for name in ("signatures", "band_keys", "band_positions", "ids", "shingles", "shingle_offsets"):
            assert s3_work.files.read_bytes(getattr(s3_paths, name)(p)) == getattr(paths, name)(p).read_bytes()
    assert s3_work.files.read_bytes(s3_paths.clusters) == paths.clusters.read_bytes()
    names = {p.rsplit("/", 1)[1] for p, _ in s3_work.files.list_files(f"s3://{bucket}/work/job-n/dedup/*")}
    assert names == {f"{p:05d}.near.json" for p in range(len(plan))}
    exact = {p.rsplit("/", 1)[1] for p, _ in s3_work.files.list_files(f"s3://{bucket}/work/job-n/dedup/exact/*")}
    assert exact == {"0000.npy"}


def test_keep_removed_puts_near_duplicates_aside_with_the_id_their_cluster_kept(tmp_path, tokenizer_path):
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path)
    pre = cfg.preprocessing.model_copy(update={"keep_removed": True})
    cfg = cfg.model_copy(update={"preprocessing": pre})
    for i, pieces in enumerate(plan):
        process_partition(cfg, pieces, work, i)
    decide_dedup(work, len(plan), name_kept=True)
    for b in range(pre.near_dedup.num_bands):
        find_band_edges(pre.near_dedup, work, len(plan), b)
    join_clusters(pre.near_dedup, work, len(plan), name_kept=True)
    aside = []
    for i in range(len(plan)):
        near = read_near_drops(work, i)
        kept = read_kept_ids_of(cfg, work, i)
        tokenize_partition(cfg, work, i, read_drops(work, i), near_positions=near, kept_ids=kept)
        aside += list(iter_jsonl_zst(work.files, work.duplicates(i)))
    by_reason = {r: {d["id"] for d in aside if d["reason"] == r} for r in ("exact_duplicate", "near_duplicate")}
    assert by_reason == expected
    of = {d["id"]: d["duplicate_of"] for d in aside}
    assert of["c001"] == of["c002"] == "b040" and of["b030"] == "a000"


def test_exact_verification_keeps_what_a_short_signature_misjudges(tmp_path, tokenizer_path):
    # 8 hashes: a noisy estimate, while the exact Jaccard of the shingle sets does not depend on the signature's
    # length; the candidates (4 bands of 2) still cover every near pair. The labelled set's figures (precision and
    # recall against the estimate) are bench/near_dedup_quality.py's.
    cfg, plan, work, expected = make_job(tmp_path, tokenizer_path, num_bands=4, rows_per_band=2)
    run_near(cfg, plan, work)
    assert dropped_ids(work, len(plan)) == expected
    assert work.files.exists(work.shingles(0)) and work.files.exists(work.shingle_offsets(0))

    sig, plan, work2, _ = make_job(tmp_path / "sig", tokenizer_path, verify_on="signature")
    run_near(sig, plan, work2)
    assert dropped_ids(work2, len(plan)) == expected
    assert not work2.files.exists(work2.shingles(0))  # nothing kept for a check that does not read it
