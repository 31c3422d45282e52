"""One near-dedup band task on a local work dir vs an S3 one (a moto server in its own process on loopback).

    python bench/near_dedup_s3.py      # prints a table; needs the dev extra (moto[server])

The same signature and band files (synthetic signatures, 2% of them near copies so that verification has
candidates to read) are written under both work dirs; then `find_band_edges` runs for one band on each,
side by side. Columns: seconds, and the bytes the task fetched from S3 (counted from the GetObject
responses), beside what downloading the partitions' whole band files would have fetched. moto answers
from one Python process, so the S3 seconds measure Auralith's client path plus a slow server.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from storage import moto_server  # noqa: E402  (bench/storage.py: the moto server helper)

PARTITIONS = 4
DOCS = 20_000
BAND = 3


def write_work(work, cfg) -> None:
    import numpy as np

    from auralith.steps.minhash import band_keys
    from auralith.storage.npy import save_npy

    rng = np.random.default_rng(1)
    paths, files = work, work.files
    for p in range(PARTITIONS):
        sig = rng.integers(0, 2**63, size=(DOCS, cfg.num_hashes), dtype=np.uint64)
        copies = rng.choice(DOCS, size=DOCS // 50, replace=False)
        sig[copies] = sig[(copies + 1) % DOCS]  # near copies: whole rows repeated
        sig[copies, :3] += np.uint64(1)  # but not exactly
        keys = band_keys(sig, cfg.num_bands, cfg.rows_per_band, cfg.seed)
        order = np.argsort(keys, axis=1, kind="stable")
        save_npy(files, paths.signatures(p), sig)
        save_npy(files, paths.band_keys(p), np.take_along_axis(keys, order, axis=1))
        save_npy(files, paths.band_positions(p), np.arange(DOCS, dtype=np.uint32)[order])


def main() -> None:
    with moto_server():
        _bench()


def _bench() -> None:
    from auralith.pipeline.near_dedup import find_band_edges
    from auralith.pipeline.paths import WorkPaths
    from auralith.steps.minhash import NearDedupConfig
    from auralith.storage import Files
    from auralith.storage.s3 import s3_client

    fetched: dict[str, int] = {}
    last_key = [""]  # the task reads one object at a time: the key of the GetObject under way

    def key_of(params, **_):
        last_key[0] = "band rows" if "/bands/" in params.get("Key", "") else "signature rows"

    def count(parsed, **_):
        fetched[last_key[0]] = fetched.get(last_key[0], 0) + int(parsed.get("ContentLength") or 0)

    # The environment's settings (moto): `Files()` below reaches S3 through this same cached client.
    s3_client().meta.events.register("provide-client-params.s3.GetObject", key_of)
    s3_client().meta.events.register("after-call.s3.GetObject", count)
    # Signature rows are what this bench reads; exact verification reads shingle sets (bench/near_dedup_quality.py).
    cfg = NearDedupConfig(enabled=True, bucket_slice_entries=50_000, verify_on="signature")
    with tempfile.TemporaryDirectory(prefix="auralith-bench-") as tmp:
        local, remote = WorkPaths(Path(tmp) / "work", Files()), WorkPaths("s3://bench/work", Files())
        write_work(local, cfg)
        write_work(remote, cfg)
        nd = remote
        whole = {
            "band rows": sum(nd.files.size(f(p)) for p in range(PARTITIONS) for f in (nd.band_keys, nd.band_positions)),
            "signature rows": sum(nd.files.size(nd.signatures(p)) for p in range(PARTITIONS)),
        }
        rows = []
        for name, work in (("local", local), ("s3", remote)):
            fetched.clear()
            t = time.perf_counter()
            counts = find_band_edges(cfg, work, PARTITIONS, BAND)
            rows.append((name, time.perf_counter() - t, counts))
    assert rows[0][2] == rows[1][2], "the two work dirs must give the same edges"
    (_, t_local, counts), (_, t_s3, _) = rows
    print(
        f"one band task: {PARTITIONS} partitions x {DOCS} documents, {cfg.num_bands} bands, "
        f"{counts['slices']} slices, {counts['candidates']} candidates, {counts['edges']} edges"
    )
    print(f"{'':34}{'local':>10}{'s3':>10}{'ratio':>8}")
    print(f"{'seconds':34}{t_local:10.2f}{t_s3:10.2f}{t_s3 / t_local:8.1f}")
    print(f"{'':34}{'fetched':>10}{'files':>10}{'ratio':>8}")
    for what, size in whole.items():
        got = fetched.get(what, 0)
        print(f"{'MB of ' + what + ' (s3)':34}{got / 2**20:10.2f}{size / 2**20:10.2f}{got / size:8.3f}")


if __name__ == "__main__":
    main()
