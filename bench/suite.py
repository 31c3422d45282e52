"""Auralith against the alternatives, side by side in one run, as one table (run it with `bench/run`).

    bench/run                      # everything: about 30 minutes on 2 cores
    bench/run --quick              # a smaller corpus and fewer rounds: a smoke run, not figures to quote
    bench/run --only pipeline,tokenize --json results.json

Each line holds Auralith's figure, the alternative's, their ratio and the goal (docs/performance.md):
1. Celery overhead: the whole job over a 200 MB corpus of real text (bench/pipeline.py) through Celery with
   Redis + PostgreSQL and 2 worker processes vs the same runners in 2 plain processes, at several partition
   sizes (medians of alternating pairs: 5 at the default size, 2 elsewhere); with 1 worker process vs one plain
   process; and the cost per task, from the 20 MB corpus cut into 0.25 MB partitions.
2. Scaling: 1 worker process vs 2 on the same job.
3. The tokenize stage vs datatrove's DocumentTokenizer and vs itself on HF `tokenizers` (bench/tokenize_stage.py).
4. The quality filter chain and MinHash signatures vs datatrove (bench/quality.py, bench/minhash.py).
5. Peak RSS per worker process at 1x, 4x and 10x the corpus (20, 80, 200 MB).
   And the whole job (default pipeline, near dedup on) vs datatrove's closest whole pipeline on a quarter of
   the corpus, CPU-s, wall and the kept documents they share (bench/whole_job.py).
   And embedded `auralith run` with 1 and 2 worker processes vs 2 Celery worker processes (Redis + PostgreSQL).
6. The training loop in a Celery task vs a plain PyTorch loop, as written and with the malloc settings
   Auralith's loop makes (bench/train.py).
7. WARC -> main text vs datatrove's WarcReader + Trafilatura on Python's HTML docs (bench/extract.py).
8. The dedup decisions (exact, MinHash bands, near clusters): the longest single task and a task's peak RSS at
   1x and 10x the corpus (bench/dedup.py).
9. With --scale: a generated corpus of GB through the whole job, and the control plane at 100,000 partitions
   (bench/scale.py, bench/control_plane.py).
Ratios come from one run because absolute times on a shared 2-core machine vary from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pipeline  # noqa: E402

SECTIONS = ("pipeline", "embedded", "tokenize", "quality", "minhash", "whole", "train", "extract", "dedup")
# "flat": the 10x corpus's peak RSS per worker may exceed the 1x one's by this much at most.
FLAT_RSS_GROWTH = 1.25


@dataclass
class Row:
    measure: str
    auralith: str
    baseline: str
    ratio: str
    goal: str = ""
    met: bool | None = None  # None: a point on a curve, no goal of its own


def overhead(celery_s: float, plain_s: float) -> float:
    """The wall time Celery adds, as a fraction of the plain run's."""
    return celery_s / plain_s - 1


def pipeline_rows(
    mb: int, sizes: list[float | None], default: float | None, broker: str, store: str, rounds: int = 3, log=print
) -> tuple[list[Row], dict]:
    data = {s: pipeline.corpus(s) for s in (mb // 10, mb * 4 // 10, mb)}
    rows: list[Row] = []
    raw: dict = {"mb": mb, "sizes": {}, "rss": {}}
    with tempfile.TemporaryDirectory(prefix="auralith-bench-") as tmp:

        def job(corpus_mb: int, size: float | None, side: str, procs: int) -> pipeline.Run:
            work = pipeline.fresh_work(Path(tmp), f"{side}{procs}")
            cfg = pipeline.job_config(data[corpus_mb], work, size)
            run = pipeline.run_celery(cfg, procs, broker, store) if side == "celery" else pipeline.run_plain(cfg, procs)
            log(
                f"  {side:<6} {procs} proc  {corpus_mb:>4} MB  "
                f"partitions of {pipeline.size_label(size)} ({run.partitions}): "
                f"{run.wall_s:7.1f} s  {run.tokens:,} tokens  peak RSS {', '.join(f'{r:.0f}' for r in run.rss_mb)} MB  "
                + " ".join(f"{k} {v:.1f}" for k, v in run.phases.items())
            )
            return run

        for size in sizes:
            # Alternating pairs and their median: one pair alone moves by several % on a shared machine. The
            # goal's point gets `rounds` + 2 pairs, the rest of the curve `rounds` - 1.
            n = rounds + 2 if size == default and rounds > 1 else max(rounds - 1, 1)
            pairs = [(job(mb, size, "celery", 2), job(mb, size, "plain", 2)) for _ in range(n)]
            if any(c.tokens != p.tokens for c, p in pairs):
                raise RuntimeError(f"Celery and plain disagree on tokens: {[(c.tokens, p.tokens) for c, p in pairs]}")
            # The median run of each side by wall time (Run orders by it), for the figures shown.
            c, p = (statistics.median_low(runs) for runs in zip(*pairs, strict=True))
            ratio = statistics.median(overhead(c.wall_s, p.wall_s) for c, p in pairs)
            raw["sizes"][size] = {
                "celery": asdict(c),
                "plain": asdict(p),
                "overhead": ratio,
                "pairs": [(c.wall_s, p.wall_s) for c, p in pairs],
            }
            is_default = size == default
            rows.append(
                Row(
                    f"1. Celery overhead, {mb} MB, 2 procs, partitions of {pipeline.size_label(size)} "
                    f"({c.partitions}){' [default]' if is_default else ''}",
                    f"{c.wall_s:.1f} s",
                    f"{p.wall_s:.1f} s plain",
                    f"{ratio:+.1%}",
                    "<= 5%" if is_default else "",
                    ratio <= 0.05 if is_default else None,
                )
            )
        # Celery's cost per task, where it is most of the work: the small corpus in 0.25 MB partitions.
        small = mb // 10
        pairs = [(job(small, 0.25, "celery", 2), job(small, 0.25, "plain", 2)) for _ in range(rounds)]
        tasks = 2 * pairs[0][0].partitions + 3  # process and tokenize per partition; run_job, dedup, finalize
        # All the extra wall time of 2 busy processes, job-level hand-offs included, spread over the tasks.
        per_task = statistics.median(2 * (c.wall_s - p.wall_s) / tasks for c, p in pairs)
        raw["per_task_ms"] = per_task * 1000
        rows.append(
            Row(
                f"1. Celery cost per task, {small} MB in 0.25 MB partitions ({tasks} tasks)",
                f"{per_task * 1000:.0f} ms",
                "",
                "",
                "",
            )
        )
        c2 = raw["sizes"][default]["celery"]
        # Scaling: 1 worker process then 2, back to back, `rounds` times; the median of the per-round ratios.
        scaling = [(job(mb, default, "celery", 1), job(mb, default, "celery", 2)) for _ in range(rounds)]
        speedup = statistics.median(one.wall_s / two.wall_s for one, two in scaling)
        c1, c2 = (statistics.median_low(runs) for runs in zip(*scaling, strict=True))
        p1, p2 = job(mb, default, "plain", 1), job(mb, default, "plain", 2)
        raw["scaling"] = {
            "pairs": [(one.wall_s, two.wall_s) for one, two in scaling],
            "speedup": speedup,
            "plain": (p1.wall_s, p2.wall_s),
        }
        rows.append(
            Row(
                f"1. Celery overhead, {mb} MB, 1 proc, partitions of {pipeline.size_label(default)}",
                f"{c1.wall_s:.1f} s",
                f"{p1.wall_s:.1f} s plain",
                f"{overhead(c1.wall_s, p1.wall_s):+.1%}",
            )
        )
        rows.append(
            Row(
                f"2. Scaling, Celery 1 -> 2 worker procs, {mb} MB (median of {rounds})",
                f"{c2.wall_s:.1f} s",
                f"{c1.wall_s:.1f} s 1 proc",
                f"{speedup:.2f}x",
                ">= 1.8x",
                speedup >= 1.8,
            )
        )
        rows.append(
            Row(
                "2. Scaling, plain 1 -> 2 procs (the same stages, for reference)",
                f"{p2.wall_s:.1f} s",
                f"{p1.wall_s:.1f} s 1 proc",
                f"{p1.wall_s / p2.wall_s:.2f}x",
            )
        )
        for corpus_mb in (mb // 10, mb * 4 // 10):
            raw["rss"][corpus_mb] = max(job(corpus_mb, default, "celery", 2).rss_mb)
        raw["rss"][mb] = max(c2.rss_mb)
    small, big = raw["rss"][mb // 10], raw["rss"][mb]
    rows.append(
        Row(
            f"5. Peak RSS per worker proc at 1x / 4x / 10x ({mb // 10} / {mb * 4 // 10} / {mb} MB)",
            f"{big:.0f} MB at 10x",
            f"{small:.0f} MB at 1x ({raw['rss'][mb * 4 // 10]:.0f} at 4x)",
            f"{big / small:.2f}x",
            f"flat (<= {FLAT_RSS_GROWTH}x)",
            big / small <= FLAT_RSS_GROWTH,
        )
    )
    return rows, raw


def embedded_rows(
    mb: int, size: float | None, broker: str, store: str, rounds: int = 3, log=print
) -> tuple[list[Row], dict]:
    """`auralith run` (embedded: SQLite broker and store) with 1 and 2 worker processes, and the same job on a
    Celery worker of 2 processes on Redis + PostgreSQL, in alternating rounds; medians of the per-round ratios."""
    data = pipeline.corpus(mb)
    raw: dict = {"mb": mb, "rounds": []}
    with tempfile.TemporaryDirectory(prefix="auralith-bench-") as tmp:

        def job(kind: str, procs: int) -> pipeline.Run:
            work = pipeline.fresh_work(Path(tmp), f"{kind}{procs}")
            cfg = pipeline.job_config(data, work, size)
            if kind == "embedded":
                run = pipeline.run_embedded(cfg, procs, work)
            else:
                run = pipeline.run_celery(cfg, procs, broker, store)
            log(
                f"  {kind:<8} {procs} proc  {mb:>4} MB ({run.partitions} partitions): {run.wall_s:7.1f} s  "
                f"{run.cpu_s:7.1f} CPU-s  {run.tokens:,} tokens  load {run.load[0]:.2f} -> {run.load[1]:.2f}"
            )
            return run

        for _ in range(rounds):
            raw["rounds"].append(
                {"embedded1": job("embedded", 1), "embedded2": job("embedded", 2), "celery2": job("celery", 2)}
            )
    rs = raw["rounds"]
    if len({r[k].tokens for r in rs for k in r}) != 1:
        raise RuntimeError("embedded and Celery runs disagree on tokens")
    speedup = statistics.median(r["embedded1"].wall_s / r["embedded2"].wall_s for r in rs)
    vs_wall = statistics.median(r["embedded2"].wall_s / r["celery2"].wall_s - 1 for r in rs)
    vs_cpu = statistics.median(r["embedded2"].cpu_s / r["celery2"].cpu_s - 1 for r in rs)
    e1, e2, c2 = (statistics.median_low(r[k] for r in rs) for k in ("embedded1", "embedded2", "celery2"))
    loads = [x for r in rs for run in r.values() for x in run.load]
    raw.update(speedup=speedup, vs_celery_wall=vs_wall, vs_celery_cpu=vs_cpu, load=(min(loads), max(loads)))
    raw["rounds"] = [{k: asdict(v) for k, v in r.items()} for r in rs]
    where = f"{mb} MB, median of {rounds}, load {min(loads):.1f}-{max(loads):.1f}"
    return [
        Row(
            f"1. Embedded `auralith run`, 1 -> 2 worker procs ({where})",
            f"{e2.wall_s:.1f} s, {e2.cpu_s:.0f} CPU-s",
            f"{e1.wall_s:.1f} s, {e1.cpu_s:.0f} CPU-s 1 proc",
            f"{speedup:.2f}x",
            ">= 1.8x",
            speedup >= 1.8,
        ),
        Row(
            "1. Embedded 2 procs vs Celery 2 procs on Redis + PostgreSQL, wall",
            f"{e2.wall_s:.1f} s",
            f"{c2.wall_s:.1f} s",
            f"{vs_wall:+.1%}",
            "<= 5%",
            vs_wall <= 0.05,
        ),
        Row(
            "1. Embedded 2 procs vs Celery 2 procs on Redis + PostgreSQL, CPU",
            f"{e2.cpu_s:.1f} CPU-s",
            f"{c2.cpu_s:.1f} CPU-s",
            f"{vs_cpu:+.1%}",
            "<= 5%",
            vs_cpu <= 0.05,
        ),
    ], raw


def scale_rows(gb: float, broker: str, store: str, log=print) -> tuple[list[Row], dict]:
    """The scale run (bench/scale.py) and the control plane at 100,000 partitions (bench/control_plane.py)."""
    from bench import control_plane, scale

    with tempfile.TemporaryDirectory(prefix="auralith-scale-") as tmp:
        small = scale.run_size(200, 2, broker, store, Path(tmp), log=log)
        big = scale.run_size(int(gb * 1024), 2, broker, store, Path(tmp), log=log)
    ratio = big["mb_per_cpu_s"] / small["mb_per_cpu_s"]
    server = store.rsplit("/", 1)[0]
    cp = control_plane.measure(100_000, server, broker, log=log)
    size = f"{big['mb'] / 1024:g} GB"
    rows = [
        Row(
            f"9. Scale: throughput per core, {size} vs 200 MB (Celery, 2 procs, near dedup on)",
            f"{big['mb_per_cpu_s']:.2f} MB/CPU-s",
            f"{small['mb_per_cpu_s']:.2f} MB/CPU-s",
            f"{ratio:.1%}",
            ">= 90%",
            ratio >= 0.9,
        ),
        Row(
            f"9. Scale: longest task at {size} / 200 MB",
            f"{max(big['longest_task_s'].values()):.1f} s",
            f"{max(small['longest_task_s'].values()):.1f} s",
            "",
        ),
        Row(
            f"9. Scale: peak RSS per worker proc at {size} / 200 MB",
            f"{max(big['rss_mb']):.0f} MB",
            f"{max(small['rss_mb']):.0f} MB",
            f"{max(big['rss_mb']) / max(small['rss_mb']):.2f}x",
        ),
        Row(f"9. Scale: store size at {size} / 200 MB", f"{big['store_mb']:.1f} MB", f"{small['store_mb']:.1f} MB", ""),
        Row(
            f"9. Scale: `auralith status` at {size} / 200 MB",
            f"{big['status_s']:.2f} s",
            f"{small['status_s']:.2f} s",
            "",
            "< 1 s",
            big["status_s"] < 1,
        ),
    ]
    for key, what in (
        ("status_s", "`auralith status`"),
        ("watch_s", "one `watch` refresh"),
        ("resume_s", "resume planning (after a cancel)"),
        ("supervisor_s", "the supervisor's scan"),
    ):
        rows.append(
            Row(f"9. Control plane, 100,000 partitions: {what}", f"{cp[key]:.2f} s", "", "", "< 1 s", cp[key] < 1)
        )
    return rows, {"200mb": small, "big": big, "throughput_ratio": ratio, "control_plane": cp}


def whole_rows(mb: int, broker: str, store: str, log=print) -> tuple[list[Row], dict]:
    """Auralith's default job vs datatrove's closest whole pipeline (bench/whole_job.py)."""
    from bench import whole_job

    r = whole_job.measure(mb, broker, store, log=log)
    a, d = r["auralith"], r["datatrove"]
    return [
        Row(
            f"4. Whole job vs datatrove ({mb} MB, 2 procs each: filters, PII, dedup, tokenize), CPU",
            f"{a['cpu_s']:.1f} CPU-s",
            f"{d['cpu_s']:.1f} CPU-s",
            f"{r['cpu_ratio']:.1f}x",
            ">= 5x",
            r["cpu_ratio"] >= 5,
        ),
        Row("4. Whole job vs datatrove, wall", f"{a['wall_s']:.1f} s", f"{d['wall_s']:.1f} s", ""),
        Row(
            f"4. Whole job vs datatrove, kept documents ({r['shared']:,} shared)",
            f"{a['kept']:,} kept, {r['auralith_keeps_of_datatrove']:.1%} of datatrove's",
            f"{d['kept']:,} kept, {r['datatrove_keeps_of_auralith']:.1%} of Auralith's",
            "",
            ">= 99% both ways",
            min(r["auralith_keeps_of_datatrove"], r["datatrove_keeps_of_auralith"]) >= 0.99,
        ),
    ], r


def tokenize_rows(mb: float) -> tuple[list[Row], dict]:
    from bench import tokenize_stage

    r = tokenize_stage.measure(mb, threads=1)
    ours = f"{r['auralith']['tok_cpu_s'] / 1e6:,.1f}M tok/CPU-s"
    return [
        Row(
            "3. Tokenize stage vs datatrove's DocumentTokenizer (1 thread)",
            ours,
            f"{r['datatrove']['tok_cpu_s'] / 1e6:,.2f}M tok/CPU-s",
            f"{r['cpu_ratio_datatrove']:.1f}x",
            ">= 10x",
            r["cpu_ratio_datatrove"] >= 10,
        ),
        Row(
            "3. Tokenize stage, fastokens vs HF tokenizers (encoder: tokenizers)",
            ours,
            f"{r['auralith_hf']['tok_cpu_s'] / 1e6:,.2f}M tok/CPU-s",
            f"{r['cpu_ratio_auralith_hf']:.1f}x",
            "shards identical",
            r["identical"],
        ),
    ], r


def quality_rows(mb: float) -> tuple[list[Row], dict]:
    from bench import quality

    r = quality.measure(mb)
    r.pop("docs")
    return [
        Row(
            f"4. Quality chain + PII vs datatrove ({r['mb']:.0f} MB, same decision {r['agree']:.0%})",
            f"{r['auralith']['mbps']:.2f} MB/s/core",
            f"{r['datatrove']['mbps']:.2f} MB/s/core",
            f"{r['ratio']:.1f}x",
            ">= 2x",
            r["ratio"] >= 2,
        )
    ], r


def minhash_rows(mb: float) -> tuple[list[Row], dict]:
    from bench import minhash
    from bench.corpus import real_text_documents

    r = minhash.bench_signatures(real_text_documents(mb, seed=0), show=False)
    return [
        Row(
            f"4. MinHash signatures vs datatrove ({r['mb']:.0f} MB)",
            f"{r['auralith']['mbps']:.2f} MB/s/core",
            f"{r['datatrove']['mbps']:.2f} MB/s/core",
            f"{r['ratio']:.1f}x",
            ">= 2x",
            r["ratio"] >= 2,
        )
    ], r


def extract_rows(pages: int) -> tuple[list[Row], dict]:
    from bench import extract

    # Python's HTML documentation where Debian's python3.11-doc package put it, else the test fixture's pages.
    root = Path("/usr/share/doc/python3.11/html")
    r = extract.measure(root if root.is_dir() else None, pages, rounds=2)
    return [
        Row(
            f"7. WARC -> main text vs datatrove WarcReader + Trafilatura ({r['pages']} pages, {r['mb']:.1f} MB)",
            f"{r['auralith']['mbps']:.2f} MB/s/core",
            f"{r['datatrove']['mbps']:.2f} MB/s/core",
            f"{r['ratio']:.1f}x",
            ">= 2x",
            r["ratio"] >= 2,
        )
    ], r


def train_rows(steps: int, rounds: int, broker: str) -> tuple[list[Row], dict]:
    from bench import train

    r = train.measure(steps=steps, rounds=rounds, threads=1, broker=broker, show=False)
    # Against the loop as a user writes it, and against the same loop with Auralith's malloc settings
    # (auralith/train/host_memory.py): the second is the cost of the loop, Celery and checkpoints alone.
    return [
        Row(
            f"6. Training loop in a Celery task vs plain PyTorch ({steps} steps, median of {rounds})",
            f"{r['celery']:,.0f} tok/s",
            f"{r['plain']:,.0f} tok/s",
            f"{r['ratio']:.1%}",
            ">= 95%",
            r["ratio"] >= 0.95,
        ),
        Row(
            "6. ... vs the plain loop with the same malloc settings",
            f"{r['celery']:,.0f} tok/s",
            f"{r['tuned']:,.0f} tok/s",
            f"{r['ratio_tuned']:.1%}",
            ">= 95%",
            r["ratio_tuned"] >= 0.95,
        ),
    ], r


def dedup_rows(mb: int, partition_mb: float) -> tuple[list[Row], dict]:
    """The dedup decisions' longest task and a task's peak RSS at 1x and 10x the corpus (bench/dedup.py)."""
    from bench import dedup

    r = dedup.measure(mb, partition_mb, log=lambda m: print(m, file=sys.stderr, flush=True))
    after = "hash ranges (after)"
    (t1, rss1), (t10, rss10) = (dedup.longest(r["scales"][k], after) for k in (1, 10))
    same = all(row["identical"] for row in r["scales"].values())
    return [
        Row(
            f"8. Longest dedup task, 1x -> 10x ({mb // 10} / {mb} MB, decisions as one task: {same})",
            f"{t10:.2f} CPU-s at 10x",
            f"{t1:.2f} CPU-s at 1x",
            f"{t10 / max(t1, 1e-3):.2f}x",
            "<= 2x",
            t10 <= 2 * max(t1, 1e-3) and same,
        ),
        Row(
            "8. Peak RSS of a dedup task, 1x -> 10x",
            f"{rss10:.0f} MB at 10x",
            f"{rss1:.0f} MB at 1x",
            f"{rss10 / rss1:.2f}x",
            f"flat (<= {FLAT_RSS_GROWTH}x)",
            rss10 / rss1 <= FLAT_RSS_GROWTH,
        ),
    ], {str(k): {str(kk): v for kk, v in row.items()} for k, row in r["scales"].items()}


def render(rows: list[Row]) -> str:
    head = ("measure", "Auralith", "alternative", "ratio", "goal", "met")
    cells = [head] + [
        (r.measure, r.auralith, r.baseline, r.ratio, r.goal, "" if r.met is None else ("yes" if r.met else "NO"))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [
        " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 MB corpus, fewer rounds: checks the suite runs")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--mb", type=int, default=None, help="the pipeline corpus at 10x (default 200; 20 with --quick)")
    ap.add_argument("--partition-sizes", default=None, help="partition_size_mb values for the overhead curve")
    ap.add_argument("--json", type=Path, help="also write every figure measured to this file")
    ap.add_argument(
        "--scale",
        nargs="?",
        const=10.0,
        type=float,
        metavar="GB",
        help="also the scale run (default 10 GB; hours on 2 cores) and the control plane at 100,000 partitions",
    )
    ap.add_argument("--broker", default=os.environ.get("AURALITH_BENCH_BROKER", pipeline.DEFAULT_BROKER))
    ap.add_argument("--store", default=os.environ.get("AURALITH_BENCH_STORE", pipeline.DEFAULT_STORE))
    args = ap.parse_args(argv)
    from auralith.config import JobConfig

    default = JobConfig.model_fields["partition_size_mb"].default
    mb = args.mb or (20 if args.quick else 200)
    sizes: list[float | None] = (
        [float(s) for s in args.partition_sizes.split(",")]
        if args.partition_sizes
        else ([2.0, default] if args.quick else [4.0, 8.0, 16.0, 32.0, 64.0])
    )
    if default not in sizes:
        sizes.append(default)
    only = [s.strip() for s in args.only.split(",") if s.strip()] + (["scale"] if args.scale else [])
    unknown = set(only) - {*SECTIONS, "scale"}
    if unknown:
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    runs = {
        "pipeline": lambda: pipeline_rows(
            mb,
            sizes,
            default,
            args.broker,
            args.store,
            1 if args.quick else 3,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        ),
        "embedded": lambda: embedded_rows(
            mb,
            default,
            args.broker,
            args.store,
            1 if args.quick else 3,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        ),
        "tokenize": lambda: tokenize_rows(4.0 if args.quick else 16.0),
        "whole": lambda: whole_rows(
            mb // 4, args.broker, args.store, log=lambda m: print(m, file=sys.stderr, flush=True)
        ),
        "scale": lambda: scale_rows(
            args.scale or 10.0, args.broker, args.store, log=lambda m: print(m, file=sys.stderr, flush=True)
        ),
        "quality": lambda: quality_rows(1.0 if args.quick else 4.0),
        "minhash": lambda: minhash_rows(2.0 if args.quick else 8.0),
        "train": lambda: train_rows(50 if args.quick else 200, 1 if args.quick else 5, args.broker),
        "extract": lambda: extract_rows(30 if args.quick else 130),
        "dedup": lambda: dedup_rows(mb, 0.25 if args.quick else 1.0),
    }
    pipeline.boost()  # AURALITH_BENCH_NICE: see bench/pipeline.py
    rows: list[Row] = []
    figures: dict = {"load_control": {"autogroup_nice": pipeline.BENCH_NICE, "loadavg": os.getloadavg()}}
    for name in (*SECTIONS, "scale"):
        if name in only:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            section_rows, figures[name] = runs[name]()
            rows += section_rows
    table = render(sorted(rows, key=lambda r: r.measure[:2]))
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "figures": figures}, indent=2, default=str))
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
