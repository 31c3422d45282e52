"""MinHash near dedup: signature speed against datatrove, and the band stage's memory as the corpus grows.

    pip install -e ".[bench]"
    python bench/minhash.py [--mb 8]

1. Signatures. The same real documents (man pages and package docs, bench/corpus.py), the same settings
   (word 5-grams, 14 bands x 8 rows = 112 64-bit hashes, seed 1), in one process and one thread each,
   one after the other in this run: Auralith's per-partition signature writer (signatures, band keys
   sorted per band, files written) against datatrove's `MinhashDedupSignature.run` (signatures, one
   file per bucket, sorted). MB/s per core = MB of UTF-8 text / CPU seconds of this process.
2. Band stage memory. Peak RSS of one band task (`find_band_edges`, a fresh subprocess per size) over
   100k, 400k and 1M documents (1x, 4x, 10x) in partitions of 10k, 2% of them planted near copies.
   Signature files are synthetic (random 64-bit values: that is what MinHash values look like) and
   sparse: a band task reads band keys and the signature rows of its candidates only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import real_text_documents  # noqa: E402

DOCS_PER_PARTITION = 10_000
BASE_DOCS = 100_000
PLANTED = 0.02


def _cpu() -> float:
    return time.process_time()


def bench_signatures(docs: list[str], show: bool = True) -> dict:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from auralith.pipeline.near_dedup import SignatureWriter
    from auralith.pipeline.paths import WorkPaths
    from auralith.steps.minhash import NearDedupConfig
    from auralith.storage import Files

    mb = sum(len(d.encode()) for d in docs) / 2**20
    cfg = NearDedupConfig(enabled=True, ngram=5, num_bands=14, rows_per_band=8, seed=1)
    dt_cfg = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = WorkPaths(Path(tmp) / "auralith", Files())

        def auralith(texts: list[str], index: int) -> None:
            writer = SignatureWriter(cfg, paths, index)
            for i, t in enumerate(texts):
                writer.add(i, str(i), t)
            writer.close()

        step = MinhashDedupSignature(str(Path(tmp) / "datatrove"), dt_cfg)

        def datatrove(texts: list[str], index: int) -> None:
            step.run(iter(Document(text=t, id=str(i)) for i, t in enumerate(texts)), rank=index)

        for name, fn in (("auralith", auralith), ("datatrove", datatrove)):
            fn(docs[:20], 99)  # warm-up: imports, spaCy's tokenizer, numpy
            cpu, wall = _cpu(), time.perf_counter()
            fn(docs, 0)
            rows.append((name, _cpu() - cpu, time.perf_counter() - wall))
    result = {name: {"cpu": cpu, "wall": wall, "mbps": mb / cpu} for name, cpu, wall in rows}
    result.update(documents=len(docs), mb=mb, ratio=rows[1][1] / rows[0][1])
    if show:
        print(f"MinHash signatures: {len(docs):,} documents, {mb:.1f} MB, 112 hashes of word 5-grams, 1 core each")
        print(f"{'':<10} {'CPU s':>8} {'wall s':>8} {'MB/s per core':>14}")
        for name, cpu, wall in rows:
            print(f"{name:<10} {cpu:8.2f} {wall:8.2f} {mb / cpu:14.2f}")
        print(f"ratio auralith / datatrove: {result['ratio']:.1f}x\n")
    return result


def write_synthetic_partitions(root: Path, n_docs: int, seed: int = 0) -> int:
    """Band-key and (sparse) signature files as `SignatureWriter` writes them; returns partitions."""
    from auralith.pipeline.paths import WorkPaths
    from auralith.steps.minhash import band_keys
    from auralith.storage import Files
    from auralith.storage.npy import save_npy

    paths, files = WorkPaths(root, Files()), Files()
    rng = np.random.default_rng(seed)
    parts = n_docs // DOCS_PER_PARTITION
    for p in range(parts):
        n = DOCS_PER_PARTITION
        sig = rng.integers(0, 2**64 - 1, size=(n, 112), dtype=np.uint64)
        copies = rng.choice(n, size=int(n * PLANTED) * 2, replace=False).reshape(2, -1)
        src, dst = copies
        sig[dst] = sig[src]
        changed = rng.random((len(dst), 112)) < 0.08
        sig[dst] = np.where(changed, rng.integers(0, 2**64 - 1, size=(len(dst), 112), dtype=np.uint64), sig[dst])
        keys = band_keys(sig, 14, 8, 1)
        order = np.argsort(keys, axis=1, kind="stable")
        save_npy(files, paths.band_keys(p), np.take_along_axis(keys, order, axis=1))
        save_npy(files, paths.band_positions(p), order.astype(np.uint32))
        path = paths.signatures(p)
        path.parent.mkdir(parents=True, exist_ok=True)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint64, shape=(n, 112))  # a sparse file
        planted = np.concatenate([src, dst])
        mm[planted] = sig[planted]
        mm.flush()
        del mm
    return parts


CHILD = r"""
import json, sys, time
from pathlib import Path
from auralith.steps.minhash import NearDedupConfig
from auralith.pipeline.near_dedup import find_band_edges
from auralith.pipeline.paths import WorkPaths
from auralith.storage import Files
root, parts, entries = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cfg = NearDedupConfig(enabled=True, bucket_slice_entries=entries)
t = time.perf_counter()
counts = find_band_edges(cfg, WorkPaths(root, Files()), parts, 0)
counts["seconds"] = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries the parent's peak over fork+exec into ru_maxrss.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
counts["peak_rss_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(counts))
"""


def bench_band_memory() -> None:
    default = 2_000_000
    slices = (default, 200_000)
    print("Band task (one band of every partition) peak RSS, fresh process per size")
    print(
        f"{'corpus':>7} {'documents':>10} {'partitions':>10} | "
        + " | ".join(f"{f'slice {s:,}':>31}" for s in slices)
        + " | edges"
    )
    for scale in (1, 4, 10):
        n = BASE_DOCS * scale
        with tempfile.TemporaryDirectory() as tmp:
            parts = write_synthetic_partitions(Path(tmp), n)
            cells, edges = [], None
            for entries in slices:
                run = subprocess.run(
                    [sys.executable, "-c", CHILD, tmp, str(parts), str(entries)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "OMP_NUM_THREADS": "1"},
                )
                got = json.loads(run.stdout)
                edges = got["edges"] if edges is None else edges
                assert got["edges"] == edges, "slicing changed the result"
                cells.append(f"{got['peak_rss_mb']:7.1f} MB {got['seconds']:6.2f} s {got['slices']:3d} slices")
            print(f"{scale:>6}x {n:>10,} {parts:>10} | " + " | ".join(f"{c:>31}" for c in cells) + f" | {edges:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8.0, help="MB of text for the signature comparison")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        bench_signatures(real_text_documents(args.mb, seed=0))
    if not args.skip_memory:
        bench_band_memory()


if __name__ == "__main__":
    main()
