"""Near-duplicate precision and recall on a labelled set built from real documents, and what verification costs.

    python bench/near_dedup_quality.py                 # ~5,000 documents, every variant, 2 alternating rounds
    python bench/near_dedup_quality.py --docs 1500 --rounds 1

The set (`labelled_set`): real documents from this machine (man pages, /usr/share/doc; bench/corpus.py), and for
some of them seeded copies that a crawl makes: typos, lines moved, boilerplate appended, the head or tail cut,
one to three at a time with random strengths, so the copies' Jaccard spreads over 0.65-1.0 around the 0.8 line;
plus hard negatives at 0.3-0.6 (half a document cut away, or spliced with another). The labels are not the
edits' intent but the truth: every pair of documents whose word 5-gram sets (the shingles the signature
hashes, on the text as the process stage leaves it) have an exact Jaccard >= 0.8, found by brute force
within the buckets of a very sensitive LSH (64 bands x 2 rows: a pair at 0.8 is missed with probability
0.36^64), all pairs of each bucket compared. The expected removals are each cluster of those pairs but its
smallest id, the rule the job keeps.

Each variant runs the job's own stage functions (process, exact dedup, one task per band, the join) on the
same partitions, alternating rounds; CPU-seconds of the near-dedup work (the process stage with signatures
and shingle sets, minus the same stage without near dedup; the band tasks; the join) and the shingle files' size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auralith.config import parse_config  # noqa: E402
from auralith.pipeline.exact_dedup import decide_dedup, read_drops  # noqa: E402
from auralith.pipeline.near_dedup import find_band_edges, join_clusters, read_near_drops  # noqa: E402
from auralith.pipeline.paths import WorkPaths  # noqa: E402
from auralith.pipeline.plan import plan_partitions  # noqa: E402
from auralith.pipeline.process import process_partition  # noqa: E402
from auralith.sources.readers import iter_jsonl_zst  # noqa: E402
from auralith.steps.minhash import MinHasher, band_keys, connected_components, exact_jaccard, shingle_set  # noqa: E402
from bench.corpus import real_text_documents  # noqa: E402

THRESHOLD = 0.8
BOILERPLATE = [
    "This page is part of the documentation of this package. Report bugs to the maintainers through the "
    "project's issue tracker, and read the licence shipped with the sources for the terms of redistribution.",
    "Copyright (C) the authors. Permission is granted to copy, distribute and/or modify this document under "
    "the terms of the GNU Free Documentation License, Version 1.3 or any later version published by the Free "
    "Software Foundation; with no Invariant Sections, no Front-Cover Texts, and no Back-Cover Texts.",
    "Subscribe to our newsletter for updates. Follow us on social media. Cookies help us deliver our services; "
    "by using our services you agree to our use of cookies. All rights reserved. Terms of use. Privacy policy.",
]

# (name, config overrides): "today" is the signature estimate; the rest verify on the exact Jaccard.
VARIANTS: dict[str, dict] = {
    "14x8 signature estimate (before)": {"num_bands": 14, "rows_per_band": 8, "verify_on": "signature"},
    "14x8 exact Jaccard": {"num_bands": 14, "rows_per_band": 8, "verify_on": "shingles"},
    "20x5 signature estimate": {"num_bands": 20, "rows_per_band": 5, "verify_on": "signature"},
    "defaults: 20x5 exact Jaccard (after)": {},
}


def _typos(text: str, rate: float, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k=min(len(words), max(1, int(rate * len(words))))):
        w = words[i]
        if w:
            j = rng.randrange(len(w))
            words[i] = w[:j] + rng.choice("abcdefghijklmnopqrstuvwxyz") + w[j + 1 :]
    return " ".join(words)


def _move_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) < 4:
        return text
    a = rng.randrange(len(lines) - 1)
    b = min(len(lines), a + rng.randint(1, max(1, len(lines) // 5)))
    block, rest = lines[a:b], lines[:a] + lines[b:]
    k = rng.randrange(len(rest) + 1)
    return "\n".join(rest[:k] + block + rest[k:])


def _cut(text: str, fraction: float, rng: random.Random) -> str:
    n = int(len(text) * fraction)
    return text[n:] if rng.random() < 0.5 else text[: len(text) - n]


def near_copy(text: str, rng: random.Random) -> str:
    """One to three crawl-like edits with random strengths (the copy's Jaccard lands anywhere in ~0.65-1)."""
    edits = rng.sample(["typos", "move", "boilerplate", "cut"], k=rng.randint(1, 3))
    for e in edits:
        if e == "typos":
            text = _typos(text, rng.uniform(0.001, 0.03), rng)
        elif e == "move":
            text = _move_lines(text, rng)
        elif e == "boilerplate":
            text = text + "\n\n" + " ".join(rng.sample(BOILERPLATE, k=rng.randint(1, 3)))
        else:
            text = _cut(text, rng.uniform(0.01, 0.2), rng)
    return text


def hard_negative(text: str, other: str, rng: random.Random) -> str:
    """A document sharing roughly a third to a half of its shingles with `text`."""
    if rng.random() < 0.5:
        return _typos(_cut(text, rng.uniform(0.4, 0.65), rng), 0.005, rng)
    half = len(text) // 2
    return text[:half] + "\n" + other[: int(len(other) * rng.uniform(0.4, 0.8))]


def labelled_set(n_docs: int, seed: int = 0) -> list[dict]:
    """About `n_docs` documents (id, text): real originals, their near copies and hard negatives."""
    rng = random.Random(seed)
    pool = []
    for text in dict.fromkeys(real_text_documents(n_docs * 0.012, seed=seed)):
        words = text.split(" ")
        if len(text.split()) >= 100:
            pool.append(" ".join(words[:2500]))  # long man pages would dominate the CPU time
    bases = pool[: int(n_docs * 0.55)]
    docs = list(bases)
    for i, text in enumerate(bases):
        r = rng.random()
        if r < 0.45:
            docs.extend(near_copy(text, rng) for _ in range(rng.choice((1, 1, 1, 2, 3))))
        elif r < 0.7:
            docs.append(hard_negative(text, bases[(i + 1) % len(bases)], rng))
    rng.shuffle(docs)
    ids = [f"d{k:06d}" for k in rng.sample(range(10**6), len(docs))]  # the kept copy is not always the original
    return [{"id": i, "text": t} for i, t in zip(ids, docs, strict=True)]


def true_pairs(texts: list[str], threshold: float = THRESHOLD) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """Every pair with exact Jaccard >= threshold (all pairs of each bucket of a 64 x 2 LSH compared), and how
    many pairs were compared per Jaccard range (the hard negatives among them)."""
    hasher = MinHasher(5, 128, seed=7)
    shingles = [hasher.shingle_hashes(t) for t in texts]
    sets = [shingle_set(s) for s in shingles]
    has = np.flatnonzero([len(s) > 0 for s in shingles])
    sig = hasher.signatures_of([shingles[i] for i in has])
    keys = band_keys(sig, 64, 2, seed=7)
    seen: set[tuple[int, int]] = set()
    for band in keys:
        order = np.argsort(band, kind="stable")
        k = band[order]
        cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
        for group in np.split(has[order], cuts):
            g = sorted(group.tolist())
            seen.update((a, b) for x, a in enumerate(g) for b in g[x + 1 :])
    pairs, ranges = [], {"0.3-0.6": 0, "0.6-0.8": 0, ">=0.8": 0}
    for a, b in seen:
        j = exact_jaccard(sets[a], sets[b])
        if j >= threshold:
            pairs.append((a, b))
            ranges[">=0.8"] += 1
        elif j >= 0.6:
            ranges["0.6-0.8"] += 1
        elif j >= 0.3:
            ranges["0.3-0.6"] += 1
    return sorted(pairs), ranges


def expected_removals(ids: list[str], pairs: list[tuple[int, int]]) -> set[str]:
    """Each cluster of the true pairs but its smallest id."""
    edges = np.asarray(pairs, dtype=np.uint64).reshape(-1, 2)
    return {ids[int(n)] for c in connected_components(edges) for n in sorted(c.tolist(), key=lambda n: ids[n])[1:]}


def precision_recall(removed: set[str], expected: set[str]) -> tuple[float, float]:
    hit = len(removed & expected)
    return hit / max(len(removed), 1), hit / max(len(expected), 1)


def _config(data: Path, work: Path, partition_mb: float, near: dict | None) -> object:
    pre: dict = {"quality": {"enabled": False}}
    if near is not None:
        pre["near_dedup"] = {"enabled": True, **near}
    return parse_config(
        {
            "sources": {"path": str(data / "*.jsonl")},
            "partition_size_mb": partition_mb,
            "work_dir": str(work),
            "preprocessing": pre,
            "tokenization": {"tokenizer": "gpt2"},
            "output": {"path": str(work / "out")},
        }
    )


def _cpu(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def run_variant(data: Path, root: Path, partition_mb: float, near: dict | None, name: str) -> dict:
    """The job's dedup stages on the set; the documents removed as exact or near duplicates, and CPU-seconds."""
    cfg = _config(data, root / name, partition_mb, near)
    plan = plan_partitions(cfg)
    work = WorkPaths.for_job(cfg, "bench")
    out: dict = {"partitions": len(plan)}
    _, out["process_s"] = _cpu(lambda: [process_partition(cfg, p, work, i) for i, p in enumerate(plan)])
    _, out["exact_s"] = _cpu(lambda: decide_dedup(work, len(plan)))
    removed: set[str] = set()
    ids_of = [[json.loads(line)["id"] for line in _clean_ids(work, i)] for i in range(len(plan))]
    for i in range(len(plan)):
        removed |= {ids_of[i][p] for p in read_drops(work, i)}
    if near is None:
        out["removed"] = removed
        return out
    nd = cfg.preprocessing.near_dedup
    bands, out["bands_s"] = _cpu(lambda: [find_band_edges(nd, work, len(plan), b) for b in range(nd.num_bands)])
    _, out["join_s"] = _cpu(lambda: join_clusters(nd, work, len(plan)))
    for i in range(len(plan)):
        removed |= {ids_of[i][p] for p in read_near_drops(work, i)}
    out["removed"] = removed
    out["candidates"] = sum(b["candidates"] for b in bands)  # type: ignore[union-attr]
    shingle_files = list((root / name / "bench" / "minhash" / "shingles").glob("*.u32"))
    out["shingles_mb"] = sum(f.stat().st_size for f in shingle_files) / 2**20
    return out


def _clean_ids(work: WorkPaths, i: int):
    return (json.dumps({"id": rec["id"]}) for rec in iter_jsonl_zst(work.files, work.clean(i)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--only", help="comma-separated variant names (default: all)")
    args = ap.parse_args()
    variants = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only.split(",")}
    docs = labelled_set(args.docs)
    with tempfile.TemporaryDirectory(prefix="auralith-neardup-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        size = sum(len(json.dumps(d)) for d in docs)
        per = -(-len(docs) // args.partitions)
        for k in range(args.partitions):
            (data / f"{k:03d}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs[k * per : (k + 1) * per]))
        partition_mb = size / 2**20 / args.partitions * 1.05
        # The truth is computed on the text as the process stage leaves it (normalised): read it back.
        base = run_variant(data, root, partition_mb, None, "plain")
        cfg = _config(data, root / "plain", partition_mb, None)
        work = WorkPaths.for_job(cfg, "bench")
        clean = [rec for i in range(base["partitions"]) for rec in iter_jsonl_zst(work.files, work.clean(i))]
        pairs, ranges = true_pairs([r["text"] for r in clean])
        expected = expected_removals([r["id"] for r in clean], pairs)
        print(
            f"labelled set: {len(docs):,} documents ({size / 2**20:.1f} MB) in {base['partitions']} partitions; "
            f"{len(pairs):,} pairs at J >= {THRESHOLD} -> {len(expected):,} expected removals; compared pairs by "
            f"exact Jaccard: {ranges}"
        )
        results: dict[str, list[dict]] = {name: [] for name in variants}
        plain_s = [base["process_s"]]
        for r in range(args.rounds):
            for name, near in variants.items():  # alternating: each round runs every variant once
                results[name].append(run_variant(data, root, partition_mb, near, f"r{r}-{len(results[name])}"))
            plain_s.append(run_variant(data, root, partition_mb, None, f"plain{r}")["process_s"])
        plain = statistics.median(plain_s)
        print(f"\nCPU-seconds, medians of {args.rounds} rounds; near-dedup process cost = process - {plain:.1f} s")
        head = f"{'variant':<34} {'precision':>9} {'recall':>7} {'FP':>4} {'FN':>4} {'candidates':>10}"
        print(head + f" {'process+':>8} {'bands':>6} {'join':>5} {'total':>6} {'shingles MB':>11}")
        for name, runs in results.items():
            last = runs[-1]
            p, rc = precision_recall(last["removed"], expected)
            fp, fn = len(last["removed"] - expected), len(expected - last["removed"])
            extra = statistics.median(x["process_s"] for x in runs) - plain
            bands = statistics.median(x["bands_s"] for x in runs)
            join = statistics.median(x["join_s"] for x in runs)
            print(
                f"{name:<34} {p:9.4f} {rc:7.4f} {fp:4d} {fn:4d} {last['candidates']:10,} {extra:8.2f} {bands:6.2f} "
                f"{join:5.2f} {extra + bands + join:6.2f} {last['shingles_mb']:11.1f}"
            )


if __name__ == "__main__":
    main()
