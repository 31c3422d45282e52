"""Exact-dedup decision: peak memory of the streaming merge vs holding every hash, as the corpus grows.

    python bench/dedup.py            # prints a table; sizes are documents per partition x partitions

Each row runs both decisions in fresh subprocesses over the same hash files (as `process_partition`
writes them: JSON lines sorted by hash), so the figures compare side by side in one run.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

PARTITIONS = 20
BASE_DOCS = 10_000  # per partition at 1x
DUP_RATE = 0.2

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from auralith.steps.dedup import HashRecord, decide_exact_duplicates
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.exact_dedup import decide_dedup
from auralith.storage import Files
root, n, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if mode == "streaming merge":
    dropped = decide_dedup(WorkPaths(root, Files()), n)["removed"]["exact_duplicate"]
else:
    recs = [HashRecord(r["h"], r["id"], p, r["pos"]) for p in range(n)
            for r in map(json.loads, (root / "hashes" / f"{p:05d}.jsonl").read_bytes().splitlines())]
    dropped = sum(len(v) for v in decide_exact_duplicates(recs).values())
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": grown, "dropped": dropped}))
"""


def write_hash_files(root: Path, docs_per_partition: int) -> None:
    rng = random.Random(0)
    texts = max(1, int(PARTITIONS * docs_per_partition * (1 - DUP_RATE)))
    (root / "hashes").mkdir(parents=True)
    for p in range(PARTITIONS):
        recs = sorted((f"{rng.randrange(texts):032x}", f"p{p}-{i}", i) for i in range(docs_per_partition))
        (root / "hashes" / f"{p:05d}.jsonl").write_text(
            "".join(json.dumps({"h": h, "id": d, "pos": pos}) + "\n" for h, d, pos in recs)
        )


def main() -> None:
    print(f"{'corpus':>7} {'documents':>10} | {'streaming merge':>24} | {'all hashes in memory':>24} | memory ratio")
    for scale in (1, 4, 10):
        with tempfile.TemporaryDirectory() as tmp:
            write_hash_files(Path(tmp), BASE_DOCS * scale)
            out = {}
            for mode in ("streaming merge", "in memory"):
                run = subprocess.run(
                    [sys.executable, "-c", CHILD, tmp, str(PARTITIONS), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                out[mode] = json.loads(run.stdout)
            s, m = out["streaming merge"], out["in memory"]
            assert s["dropped"] == m["dropped"]
            print(
                f"{scale:>6}x {PARTITIONS * BASE_DOCS * scale:>10,} | "
                f"{s['rss_mb']:8.1f} MB {s['seconds']:8.2f} s | {m['rss_mb']:8.1f} MB {m['seconds']:8.2f} s | "
                f"{m['rss_mb'] / max(s['rss_mb'], 1):.0f}x"
            )


if __name__ == "__main__":
    main()
