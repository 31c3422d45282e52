"""Whole pipelines compared: Auralith's default job against datatrove's closest equivalent on the same corpus,
2 processes each (`bench/run --only whole`, or `python bench/whole_job.py --mb 50`).

Auralith: `Client.submit` to a Celery worker of 2 processes on Redis + PostgreSQL, with the default
preprocessing (normalise, the quality chain with its datatrove-equivalent defaults, PII, exact dedup) plus near
dedup on, tokenized into shards; removed documents kept aside, so the kept set is the input less them.
datatrove (LocalPipelineExecutor, 2 tasks on 2 workers per stage): JsonlReader, GopherRepetitionFilter,
GopherQualityFilter, C4QualityFilter, FineWebQualityFilter, PIIFormatter, JsonlWriter, MinhashDedupSignature;
then MinhashDedupBuckets; MinhashDedupCluster; then the written documents through MinhashDedupFilter, a
JsonlWriter of the kept ids and its DocumentTokenizer, with the same tokenizer and the same MinHash settings
(5-grams, 14 bands of 8). datatrove has no exact-dedup step in this chain: its MinHash finds exact copies too.

CPU-seconds: every process of each side (Auralith: the worker and its pool processes, and the submitting
process; datatrove: this process and its pool). Kept sets: how many documents each keeps, and of the documents
one keeps, the share the other keeps too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pipeline  # noqa: E402


def _input_ids(data: Path) -> set[str]:
    ids = set()
    for path in sorted(data.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            ids.update(json.loads(line)["id"] for line in fh)
    return ids


def auralith_config(data: Path, work: Path) -> dict:
    return {
        "name": "whole",
        "sources": [{"path": str(data / "*.jsonl")}],
        "work_dir": str(work / "work"),
        "preprocessing": {"keep_removed": True, "near_dedup": {"enabled": True}},
        "tokenization": {"tokenizer": str(pipeline.tokenizer())},
        "output": {"path": str(work / "out")},
    }


def run_auralith(data: Path, work: Path, broker: str, store: str) -> dict:
    import zstandard

    from auralith.pipeline.stages import QUEUES

    queues = ",".join(q for q in QUEUES if q != "hpu")
    run = pipeline.run_celery(auralith_config(data, work), 2, broker, store, queues=queues)
    removed: dict[str, str] = {}  # id -> reason
    for path in (work / "work").rglob("removed/*.jsonl.zst"):
        with zstandard.ZstdDecompressor().stream_reader(open(path, "rb")) as fh:
            for line in fh.read().decode().splitlines():
                if line:
                    record = json.loads(line)
                    removed[record["id"]] = record.get("reason", "?")
    kept = _input_ids(data) - set(removed)
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "kept": kept, "load": run.load, "reasons": removed}


def run_datatrove(data: Path, work: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)
    w = work / "datatrove"
    kw = {"tasks": 2, "workers": 2, "start_method": "fork"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time()
    start = time.perf_counter()
    stages = [
        [
            JsonlReader(str(data), glob_pattern="*.jsonl"),
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            PIIFormatter(),
            JsonlWriter(str(w / "filtered")),
            MinhashDedupSignature(str(w / "sigs"), cfg),
        ],
        [MinhashDedupBuckets(str(w / "sigs"), str(w / "buckets"), config=cfg)],
        [MinhashDedupCluster(str(w / "buckets"), str(w / "remove_ids"), config=cfg)],
        [
            JsonlReader(str(w / "filtered")),
            MinhashDedupFilter(str(w / "remove_ids")),
            JsonlWriter(str(w / "kept")),
            DocumentTokenizer(str(w / "tokens"), tokenizer_name_or_path=str(pipeline.tokenizer())),
        ],
    ]
    previous = None
    for i, steps in enumerate(stages):
        stage_kw = {**kw, "tasks": 14, "workers": 2} if i == 1 else kw  # buckets: one task per band range
        if i == 2:
            stage_kw = {**kw, "tasks": 1, "workers": 1}  # the cluster step is one task in datatrove
        previous = LocalPipelineExecutor(steps, logging_dir=str(w / f"logs{i}"), depends=previous, **stage_kw)
    assert previous is not None
    previous.run()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    kept, filtered = _written_ids(w / "kept"), _written_ids(w / "filtered")
    return {"wall_s": wall, "cpu_s": cpu, "kept": kept, "filtered": filtered, "load": os.getloadavg()[0]}


def _written_ids(folder: Path) -> set[str]:
    ids = set()
    for path in folder.glob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            ids.update(json.loads(line)["id"] for line in fh)
    return ids


def measure(mb: int, broker: str, store: str, log=print) -> dict:
    data = pipeline.corpus(mb)
    with tempfile.TemporaryDirectory(prefix="auralith-whole-") as tmp:
        a = run_auralith(data, pipeline.fresh_work(Path(tmp), "auralith"), broker, store)
        log(f"  auralith  {mb} MB: {a['wall_s']:.1f} s  {a['cpu_s']:.1f} CPU-s  {len(a['kept']):,} kept")
        d = run_datatrove(data, pipeline.fresh_work(Path(tmp), "datatrove"))
        log(f"  datatrove {mb} MB: {d['wall_s']:.1f} s  {d['cpu_s']:.1f} CPU-s  {len(d['kept']):,} kept")
    both = a["kept"] & d["kept"]
    reasons = a.pop("reasons")
    # Why Auralith removed what datatrove kept: the disagreements, by Auralith's removal reason.
    disagree: dict[str, int] = {}
    for doc_id in d["kept"] - a["kept"]:
        disagree[reasons.get(doc_id, "?")] = disagree.get(reasons.get(doc_id, "?"), 0) + 1
    # And why datatrove removed what Auralith kept: by its filters, or by its MinHash (no check of the pairs).
    passed = d.pop("filtered")
    theirs = {"filters": len(a["kept"] - d["kept"] - passed), "minhash": len((a["kept"] - d["kept"]) & passed)}
    return {
        "auralith_removed_datatrove_kept": dict(sorted(disagree.items(), key=lambda kv: -kv[1])),
        "datatrove_removed_auralith_kept": theirs,
        "mb": mb,
        "auralith": {k: v for k, v in a.items() if k != "kept"} | {"kept": len(a["kept"])},
        "datatrove": {k: v for k, v in d.items() if k != "kept"} | {"kept": len(d["kept"])},
        "shared": len(both),
        "auralith_keeps_of_datatrove": len(both) / max(1, len(d["kept"])),
        "datatrove_keeps_of_auralith": len(both) / max(1, len(a["kept"])),
        "cpu_ratio": d["cpu_s"] / a["cpu_s"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--broker", default=os.environ.get("AURALITH_BENCH_BROKER", pipeline.DEFAULT_BROKER))
    ap.add_argument("--store", default=os.environ.get("AURALITH_BENCH_STORE", pipeline.DEFAULT_STORE))
    args = ap.parse_args(argv)
    pipeline.boost()
    print(json.dumps(measure(args.mb, args.broker, args.store), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
