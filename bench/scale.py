"""The scale run: a big generated corpus through the whole job on Celery (Redis + PostgreSQL), against the same
job on 200 MB of the same kind of text (`bench/run --scale`, or `python bench/scale.py --gb 10`).

The corpus is made from this machine's real text (bench/corpus.py) with seeded perturbations: each new document
joins 2-4 runs of lines taken from different real documents, so documents differ from each other as web pages
do, and a known share of them (`--near-rate`, 5% by default) are near-copies of an earlier document with 1% of
their words replaced, which MinHash at the default threshold finds. The job is the bench's (examples/demo.yaml's
preprocessing: normalise, quality chain, PII, exact dedup) with near dedup on, tokenized into shards.

Printed: throughput per core (MB of input per CPU-second of every worker process) at both sizes and their
ratio, the longest task of each stage, peak RSS per worker process, the store's size (PostgreSQL tables) and the
work and output folders, `auralith status` latency on the finished job, and the near-copies planted vs removed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pipeline  # noqa: E402
from bench.corpus import real_text_documents  # noqa: E402

NEAR_RATE = 0.05
EDIT_FRACTION = 0.01  # words replaced in a near-copy: 5-word shingles keep a Jaccard of about 0.9
POOL_MB = 48  # the real text the documents are drawn from


def scale_corpus(mb: int, near_rate: float = NEAR_RATE, seed: int = 7) -> tuple[Path, int]:
    """A folder of ~32 MB JSONL files holding about `mb` MB of generated documents (cached), and how many of
    them are planted near-copies."""
    folder = pipeline.CACHE / f"scale-{mb}mb-{near_rate:g}-{seed}"
    if (folder / "DONE").exists():
        return folder, int((folder / "DONE").read_text() or 0)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    pool = [d.split("\n") for d in real_text_documents(min(POOL_MB, mb), seed=seed) if "\n\n(copy " not in d]
    vocab = [w for lines in pool[:200] for line in lines for w in line.split()][:100_000]
    recent: list[str] = []
    fh, k, size, total, near = None, 0, 0, 0, 0
    i = 0
    while total < mb * pipeline.MB:
        if recent and rng.random() < near_rate:
            words = rng.choice(recent).split(" ")
            for _ in range(max(1, int(len(words) * EDIT_FRACTION))):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            text = " ".join(words)
            near += 1
        else:
            spans = []
            for _ in range(rng.randint(2, 4)):
                lines = rng.choice(pool)
                start = rng.randrange(len(lines))
                spans.append("\n".join(lines[start : start + rng.randint(5, 40)]))
            text = "\n\n".join(spans)
            recent.append(text)
            if len(recent) > 2000:
                recent.pop(rng.randrange(len(recent)))
        if fh is None or size >= pipeline.FILE_MB * pipeline.MB:
            if fh:
                fh.close()
            fh, size, k = open(folder / f"part-{k:04d}.jsonl", "w", encoding="utf-8"), 0, k + 1
        line = json.dumps({"id": f"s{i}", "text": text}, ensure_ascii=False) + "\n"
        fh.write(line)
        size += len(line.encode())
        total += len(line.encode())
        i += 1
    assert fh is not None
    fh.close()
    (folder / "DONE").write_text(str(near))
    return folder, near


def scale_config(data: Path, work: Path) -> dict:
    cfg = pipeline.job_config(data, work, None)
    cfg["preprocessing"] = {**cfg["preprocessing"], "near_dedup": {"enabled": True}}
    return cfg


def job_figures(store_url: str, job_id: str) -> dict:
    """Longest task per stage (from the partition rows), status latency, store size."""
    from click.testing import CliRunner
    from sqlalchemy import text

    from auralith.cli.main import main as cli
    from auralith.store import Store
    from auralith.store.db import get_engine

    store = Store(store_url)
    longest: dict[str, float] = {}
    spans: dict[str, list] = {}  # stage -> [first start, last finish, units]
    for p in store.list_partitions(job_id):
        if p.started_at and p.finished_at:
            longest[p.stage] = max(longest.get(p.stage, 0.0), (p.finished_at - p.started_at).total_seconds())
            span = spans.setdefault(p.stage, [p.started_at, p.finished_at, 0])
            span[:] = [min(span[0], p.started_at), max(span[1], p.finished_at), span[2] + 1]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = CliRunner().invoke(cli, ["--store", store_url, "status", job_id], terminal_width=160)
        times.append(time.perf_counter() - start)
        assert out.exit_code == 0, out.output
    with get_engine(store_url).connect() as conn:
        # The job's own rows (its partitions, events, heals), not the whole database, which others' jobs share.
        store_bytes = sum(
            conn.execute(
                text(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE job_id = :j"), {"j": job_id}
            ).scalar()
            or 0
            for table in ("auralith_partitions", "auralith_events", "auralith_heals")
        )
    stats = store.get_job(job_id).stats or {}
    return {
        "longest_task_s": longest,
        # Each stage's wall time from its first unit's start to its last one's end, and its units (near_dedup: the
        # rounds of its search for clusters, auralith.pipeline.components).
        "stage_s": {k: {"s": (b - a).total_seconds(), "units": n} for k, (a, b, n) in spans.items()},
        "status_s": sorted(times)[1],
        "store_mb": (store_bytes or 0) / pipeline.MB,
        "near_removed": (stats.get("removed") or {}).get("near_duplicate", 0),
        "removed": stats.get("removed"),
        "documents_out": stats.get("documents_out"),
    }


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / pipeline.MB


def run_size(mb: int, workers: int, broker: str, store: str, tmp: Path, log=print) -> dict:
    data, planted = scale_corpus(mb)
    work = pipeline.fresh_work(tmp, f"scale{mb}")
    queues = ",".join(q for q in pipeline_queues() if q != "hpu")
    # 10 GB needed more than the default hour on 2 shared cores, which stopped it: 2 s per MB, over the workers.
    timeout = max(3600, 2 * mb / workers)
    run = pipeline.run_celery(scale_config(data, work), workers, broker, store, queues=queues, timeout=timeout)
    figures = job_figures(store, run.job_id)
    figures.update(
        mb=mb,
        wall_s=run.wall_s,
        cpu_s=run.cpu_s,
        mb_per_cpu_s=mb / run.cpu_s,
        partitions=run.partitions,
        rss_mb=run.rss_mb,
        load=run.load,
        planted_near=planted,
        work_mb=_folder_mb(work / "work"),
        output_mb=_folder_mb(work / "out"),
    )
    log(
        f"  scale {mb:>6} MB: {run.wall_s:7.1f} s  {run.cpu_s:7.1f} CPU-s  {mb / run.cpu_s:.2f} MB/CPU-s  "
        f"{run.partitions} partitions  longest task {max(figures['longest_task_s'].values()):.1f} s  "
        f"peak RSS {', '.join(f'{r:.0f}' for r in run.rss_mb)} MB  store {figures['store_mb']:.1f} MB  "
        f"status {figures['status_s']:.2f} s  near-copies {planted} planted, {figures['near_removed']} removed  "
        f"load {run.load[0]:.1f} -> {run.load[1]:.1f}"
    )
    return figures


def pipeline_queues() -> tuple[str, ...]:
    from auralith.pipeline.stages import QUEUES

    return QUEUES


def main(argv: list[str] | None = None) -> int:
    import os
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=10.0, help="the big corpus, in GB (default 10)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--broker", default=os.environ.get("AURALITH_BENCH_BROKER", pipeline.DEFAULT_BROKER))
    ap.add_argument("--store", default=os.environ.get("AURALITH_BENCH_STORE", pipeline.DEFAULT_STORE))
    args = ap.parse_args(argv)
    pipeline.boost()
    with tempfile.TemporaryDirectory(prefix="auralith-scale-") as tmp:
        small = run_size(200, args.workers, args.broker, args.store, Path(tmp))
        big = run_size(int(args.gb * 1024), args.workers, args.broker, args.store, Path(tmp))
    ratio = big["mb_per_cpu_s"] / small["mb_per_cpu_s"]
    print(json.dumps({"200mb": small, "big": big, "throughput_ratio": ratio}, indent=2, default=str))
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
