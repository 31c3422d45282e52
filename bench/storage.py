"""Local files vs S3 (a moto server in its own process on loopback): what the S3 path costs the pipeline.

    python bench/storage.py            # prints a table; needs the dev extra (moto[server])

Each row does the same work on a local path and on an s3:// URL, side by side in one run: planning a
JSONL file (one streaming pass to find line boundaries), processing one partition of it (ranged GET,
normalise, hash, write the clean file), and writing then reading back one shard-sized file (multipart
upload above 64 MiB). moto keeps objects in memory and answers from one Python process, so the S3 figures
measure Auralith's client path plus a slow server, not real S3 throughput.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

MB = 2**20
JSONL_MB = 24
SHARD_MB = 96


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server():
    """A moto S3 server in its own process on a free port, with the env pointing at it and bucket `bench`."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.update(
        {
            "AURALITH_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    try:
        from auralith.storage.s3 import s3_client

        for _ in range(50):  # the server takes a moment to listen
            try:
                s3_client().create_bucket(Bucket="bench")
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.2)
        yield
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    with moto_server():
        _bench()


def _bench() -> None:
    from auralith.storage import Files
    from tests.corpus import sentences

    tmp = Path(tempfile.mkdtemp(prefix="auralith-bench-"))
    texts = sentences(2000, seed=7)
    lines, size, i = [], 0, 0
    while size < JSONL_MB * MB:
        line = json.dumps({"id": f"d{i}", "text": texts[i % len(texts)] + f" {i}"}) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    data = "".join(lines).encode()
    (tmp / "in.jsonl").write_bytes(data)
    Files().write_bytes_atomic("s3://bench/in.jsonl", data)  # the environment's settings: moto
    shard = os.urandom(SHARD_MB * MB)

    try:
        rows = _measure(tmp, data, shard)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    plan_n = rows[0][6]
    _print(rows, len(data), plan_n)


def _measure(tmp: Path, data: bytes, shard: bytes) -> list[tuple]:
    from auralith.config import parse_config
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.plan import plan_partitions
    from auralith.pipeline.process import process_partition

    rows = []
    for where, src, work, out in (
        ("local", str(tmp / "in.jsonl"), str(tmp / "work"), str(tmp / "shard.bin")),
        ("s3", "s3://bench/in.jsonl", "s3://bench/work", "s3://bench/shard.bin"),
    ):
        cfg = parse_config(
            {
                "sources": [{"path": src}],
                "tokenization": {"tokenizer": "t.json"},
                "partition_size_mb": JSONL_MB / 3,
                "work_dir": work,
            }
        )
        t0 = time.perf_counter()
        plan = plan_partitions(cfg)
        t1 = time.perf_counter()
        paths = WorkPaths.for_job(cfg, "bench")
        process_partition(cfg, plan[0], paths, 0)
        t2 = time.perf_counter()
        paths.files.write_bytes_atomic(out, shard)
        t3 = time.perf_counter()
        paths.files.read_bytes(out)
        t4 = time.perf_counter()
        t_plan, t_proc, t_write, t_read = t1 - t0, t2 - t1, t3 - t2, t4 - t3
        rows.append((where, t_plan, t_proc, t_write, t_read, sum(p.size for p in plan[0]), len(plan)))
    return rows


def _print(rows: list[tuple], data_len: int, n_parts: int) -> None:
    part_mb = rows[0][5] / MB
    print(f"JSONL {data_len / MB:.0f} MiB in {n_parts} partitions; shard {SHARD_MB} MiB; S3 = moto on loopback\n")
    print(f"{'step':<36} | {'local':>20} | {'s3 (moto)':>20} | s3/local")
    steps = [
        (f"plan {data_len / MB:.0f} MiB JSONL (line scan)", 1, data_len),
        (f"process 1 partition ({part_mb:.1f} MiB)", 2, rows[0][5]),
        (f"write {SHARD_MB} MiB shard (atomic)", 3, SHARD_MB * MB),
        (f"read {SHARD_MB} MiB shard", 4, SHARD_MB * MB),
    ]
    for name, col, nbytes in steps:
        a, b = rows[0][col], rows[1][col]
        print(
            f"{name:<36} | {a:6.2f} s {nbytes / MB / a:5.0f} MiB/s | {b:6.2f} s {nbytes / MB / b:5.0f} MiB/s"
            f" | {b / a:5.1f}x"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
