"""Quality filters + PII: Auralith's chain vs datatrove's on the same real documents, in one run.

    pip install -e ".[bench]"
    python bench/quality.py              # 4 MB for throughput; 2, 8, 20 MB for worker memory
    python bench/quality.py --mb 1 --rss-mb 1
    python bench/quality.py --per-family # also each filter family alone: how often the two decide the same

Throughput: both chains (Gopher repetition, Gopher quality, C4, FineWeb quality, PII) run in this process on
the same normalised documents, one after the other; MB/s per core is input MB over the CPU seconds each
spent (single process, so per core = total). datatrove's English word tokenizer is spaCy's blank "en"
pipeline, which needs no model download. Memory: `process_partition` runs in a fresh subprocess per corpus
size, with the default quality and PII settings, and reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import real_text_documents  # noqa: E402

MB = 2**20

CHILD = r"""
import json, resource, sys, time
from auralith.config import parse_config
from auralith.pipeline.plan import plan_partitions
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.process import process_partition
root = sys.argv[1]
cfg = parse_config({"sources": {"path": "data/*.jsonl"}, "work_dir": "work", "partition_size_mb": 10_000,
                    "tokenization": {"tokenizer": "unused"}}, base_dir=root)
plan = plan_partitions(cfg)
t = time.process_time()
counts = process_partition(cfg, plan[0], WorkPaths.for_job(cfg, "bench"), 0)
# VmHWM is this process image's own peak: ru_maxrss would also count the parent's memory, copied at fork.
try:
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except OSError:
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cpu_s": time.process_time() - t, "kept": counts["kept"], "records": counts["records"],
                  "rss_mb": hwm / 1024}))
"""


def auralith_chain():
    from auralith.config.quality import PIIConfig, QualityConfig
    from auralith.steps.quality import QualityChain

    chain = QualityChain(QualityConfig(), PIIConfig())

    def run(text: str) -> str | None:
        return chain(text)[1]

    return run


def datatrove_chain():
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    pii = PIIFormatter()

    def run(text: str) -> str | None:
        doc = Document(text=text, id="0")
        for f in filters:
            result = f.filter(doc)  # C4 edits doc.text in place, as in a datatrove pipeline
            if result is not True:
                return f"{f.name}: {result[1] if isinstance(result, tuple) else 'removed'}"
        doc.text = pii.format(doc.text)
        return None

    return run


def per_family_agreement(docs: list[str]) -> None:
    """Each family alone on every document: how often Auralith and datatrove make the same decision."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    from auralith.config.quality import C4Config, FineWebConfig, GopherQualityConfig, GopherRepetitionConfig
    from auralith.steps.c4 import C4Filter
    from auralith.steps.fineweb import FineWebQualityFilter as AFineWeb
    from auralith.steps.gopher import GopherQualityFilter as AGopherQuality
    from auralith.steps.gopher import GopherRepetitionFilter as AGopherRepetition
    from auralith.steps.text_stats import TextStats

    families = [
        (
            "gopher_repetition",
            lambda t: AGopherRepetition(GopherRepetitionConfig())(TextStats(t)),
            GopherRepetitionFilter(),
        ),
        ("gopher_quality", lambda t: AGopherQuality(GopherQualityConfig())(TextStats(t)), GopherQualityFilter()),
        ("c4", lambda t: C4Filter(C4Config())(t).reason, C4QualityFilter()),
        ("fineweb", lambda t: AFineWeb(FineWebConfig())(TextStats(t)), FineWebQualityFilter()),
    ]
    print(f"{'family':<18} {'same decision':>13} {'both remove':>11} {'only auralith':>13} {'only datatrove':>14}")
    for name, ours, theirs in families:
        both = only_ours = only_theirs = 0
        for text in docs:
            a = ours(text) is not None
            d = theirs.filter(Document(text=text, id="0")) is not True
            both += a and d
            only_ours += a and not d
            only_theirs += d and not a
        same = len(docs) - only_ours - only_theirs
        print(f"{name:<18} {same / len(docs):13.1%} {both:11d} {only_ours:13d} {only_theirs:14d}")
    print()


def show_differences(r: dict) -> None:
    """Why each document kept by one chain only was removed by the other."""
    aur, dt = auralith_chain(), datatrove_chain()
    for label, idx, run in (
        ("kept only by datatrove", r["only_dt"], aur),
        ("kept only by Auralith", r["only_aur"], dt),
    ):
        print(f"{label}: removal reasons of the other chain")
        reasons: dict[str, int] = {}
        for i in idx:
            reason = run(r["docs"][i]) or "?"
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"  {n:5d}  {reason}")
    print()


def throughput(docs: list[str], run) -> tuple[float, float, list[bool]]:
    kept = []
    cpu, wall = time.process_time(), time.perf_counter()
    for text in docs:
        kept.append(run(text) is None)
    return time.process_time() - cpu, time.perf_counter() - wall, kept


def worker_rss(mb: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        with open(data / "corpus.jsonl", "w", encoding="utf-8") as fh:
            for i, text in enumerate(real_text_documents(mb, seed=2)):
                fh.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
        run = subprocess.run([sys.executable, "-c", CHILD, tmp], capture_output=True, text=True, check=True)
        return json.loads(run.stdout)


def measure(mb: float = 4.0) -> dict:
    """Both chains on the same normalised documents: MB/s per core of each and how often they agree."""
    from auralith.steps.normalize import normalize_whitespace

    docs = [normalize_whitespace(d) for d in real_text_documents(mb)]
    size = sum(len(d.encode()) for d in docs) / MB
    aur, dt = auralith_chain(), datatrove_chain()
    for text in docs[:5]:  # warm up: spaCy builds its pipeline on first use, numpy its ufuncs
        aur(text), dt(text)
    aur_cpu, aur_wall, aur_kept = throughput(docs, aur)
    dt_cpu, dt_wall, dt_kept = throughput(docs, dt)
    agree = sum(a == b for a, b in zip(aur_kept, dt_kept, strict=True)) / len(docs)
    both = sum(a and b for a, b in zip(aur_kept, dt_kept, strict=True))
    return {
        "documents": len(docs),
        "mb": size,
        "agree": agree,
        # Agreement on what each keeps (both chains remove most of this corpus, so "same decision" flatters):
        # of datatrove's kept documents, the share Auralith keeps, and the other way round.
        "dt_kept_by_aur": both / max(sum(dt_kept), 1),
        "aur_kept_by_dt": both / max(sum(aur_kept), 1),
        "only_aur": [i for i, (a, b) in enumerate(zip(aur_kept, dt_kept, strict=True)) if a and not b],
        "only_dt": [i for i, (a, b) in enumerate(zip(aur_kept, dt_kept, strict=True)) if b and not a],
        "auralith": {"cpu": aur_cpu, "wall": aur_wall, "mbps": size / aur_cpu, "kept": sum(aur_kept)},
        "datatrove": {"cpu": dt_cpu, "wall": dt_wall, "mbps": size / dt_cpu, "kept": sum(dt_kept)},
        "ratio": dt_cpu / aur_cpu,
        "docs": docs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="corpus size for the throughput table")
    ap.add_argument("--rss-mb", type=float, default=2.0, help="corpus size at 1x for the memory table")
    ap.add_argument("--per-family", action="store_true", help="also compare each filter family on its own")
    ap.add_argument("--show-differences", action="store_true", help="reasons for the documents only one chain keeps")
    ap.add_argument("--no-rss", action="store_true", help="skip the worker memory table")
    args = ap.parse_args()

    r = measure(args.mb)
    print(f"corpus: {r['documents']} documents, {r['mb']:.2f} MB (man pages and /usr/share/doc text)\n")
    print(f"{'chain':<10} {'CPU s':>8} {'wall s':>8} {'MB/s per core':>14} {'kept':>7}")
    for name in ("auralith", "datatrove"):
        side = r[name]
        print(f"{name:<10} {side['cpu']:8.2f} {side['wall']:8.2f} {side['mbps']:14.2f} {side['kept']:7d}")
    print(
        f"ratio (auralith / datatrove MB/s per core): {r['ratio']:.1f}x;"
        f" same keep/remove decision on {r['agree']:.1%} of documents"
    )
    print(
        f"kept sets: Auralith keeps {r['dt_kept_by_aur']:.2%} of what datatrove keeps"
        f" ({len(r['only_dt'])} documents kept only by datatrove); datatrove keeps {r['aur_kept_by_dt']:.2%} of what"
        f" Auralith keeps ({len(r['only_aur'])} only by Auralith)\n"
    )
    if args.show_differences:
        show_differences(r)

    if args.per_family:
        per_family_agreement(r["docs"])

    if args.no_rss:
        return
    print(f"{'corpus':>7} {'MB':>6} {'documents':>10} {'kept':>7} {'worker peak RSS MB':>19} {'CPU s':>7}")
    for scale in (1, 4, 10):
        rss = worker_rss(args.rss_mb * scale)
        print(
            f"{scale:>6}x {args.rss_mb * scale:6.1f} {rss['records']:10d} {rss['kept']:7d} {rss['rss_mb']:19.1f}"
            f" {rss['cpu_s']:7.2f}"
        )


if __name__ == "__main__":
    main()
