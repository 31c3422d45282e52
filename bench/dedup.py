"""The dedup decisions as the corpus grows: the longest single task and the peak RSS of a task, at 1x, 4x and 10x.

    python bench/dedup.py                      # 20 / 80 / 200 MB of real text, 1 MB partitions
    python bench/dedup.py --mb 4 --partition-mb 0.25

Each corpus (bench/pipeline.py's, real text; past what the machine holds, documents repeat with light edits, so
near duplicates grow with it) is processed once (near dedup on, the demo job's filters). Then each dedup stage
runs twice on the same files, alternating: as one task per decision (`dedup_task_partitions` above the partition
count: the decisions before they were cut into hash ranges) and as the job runs it now (16 partitions' worth a
task; the near-duplicate clusters in rounds of units over ranges of partitions, auralith.pipeline.components,
even where the job's few ranges would join them in one task by default).
Every unit runs in a fresh process per stage, so a stage's peak RSS is its biggest unit's; the time is the
unit's CPU-seconds. The decisions of the two ways are compared (they must be identical).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pipeline  # noqa: E402

SCALES = (1, 4, 10)
MODES = {"one task (before)": 10**6, "hash ranges (after)": 16}
STAGES = ("dedup", "minhash", "near_dedup")

CHILD = r"""
import json, sys, time
from auralith.config import JobConfig
from auralith.pipeline.exact_dedup import decide_dedup, dedup_shards
from auralith.pipeline.near_dedup import find_band_edges, join_clusters
from auralith.pipeline.paths import WorkPaths
cfg = JobConfig.model_validate(json.loads(sys.argv[1]))
n, stage = int(sys.argv[2]), sys.argv[3]
paths = WorkPaths.for_job(cfg, "bench")
pre = cfg.preprocessing
shards = dedup_shards(pre, n)
if stage == "dedup":
    units = [lambda s=s: decide_dedup(paths, n, False, s, shards) for s in range(shards)]
elif stage == "minhash":
    units = [lambda b=b, s=s: find_band_edges(pre.near_dedup, paths, n, b, None, s, shards)
             for b in range(pre.near_dedup.num_bands) for s in range(shards)]
elif not pre.near_dedup.in_rounds(shards):
    units = [lambda: join_clusters(pre.near_dedup, paths, n, False, shards)]
else:  # the clusters in rounds, each round's units once the last round's are done, as `advance` adds them
    from types import SimpleNamespace
    from auralith.pipeline.components import first_units, next_units, run_phase
    units, rows = [], []
    refs = first_units(n, shards)
took_s = []
def timed(fn):
    t = time.process_time()
    out = fn()
    took_s.append(time.process_time() - t)
    return out
for unit in units:
    timed(unit)
if stage == "near_dedup" and pre.near_dedup.in_rounds(shards):
    while refs:
        new = [SimpleNamespace(index=len(rows) + i, input_ref=ref, counts=None) for i, ref in enumerate(refs)]
        rows += new
        for row in new:
            row.counts = timed(lambda row=row: run_phase(paths, row.input_ref, pre.near_dedup, False, lambda: rows))
        refs = next_units(cfg, rows)
longest, total = max(took_s, default=0.0), sum(took_s)
units = took_s
# VmHWM, not ru_maxrss: the latter keeps the peak of the process image before exec (the parent's).
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"units": len(units), "longest_s": longest, "total_s": total, "rss_mb": hwm}))
"""


def _process(args: tuple[str, int, list]) -> None:
    from auralith.config import JobConfig
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.process import process_partition
    from auralith.sources.documents import FilePiece

    cfg_json, index, pieces = args
    cfg = JobConfig.model_validate(json.loads(cfg_json))
    process_partition(cfg, [FilePiece.from_dict(p) for p in pieces], WorkPaths.for_job(cfg, "bench"), index)


def _decisions(work: Path) -> dict[str, list]:
    """Every drop as (kind, partition, position): the two ways must agree."""
    import numpy as np

    exact = sorted(int(v) for f in sorted((work / "dedup" / "exact").glob("*.npy")) for v in np.load(f))
    near = {f.name: json.loads(f.read_text()) for f in sorted((work / "dedup").glob("*.near.json"))}
    return {"exact": exact, "near": sorted(near.items())}


def measure(mb: int, partition_mb: float, log=print) -> dict:
    from auralith.config import parse_config
    from auralith.pipeline.plan import plan_partitions

    out: dict = {"mb": mb, "partition_mb": partition_mb, "scales": {}}
    with tempfile.TemporaryDirectory(prefix="auralith-dedup-") as tmp:
        for scale in SCALES:
            size = max(1, mb * scale // 10)
            data = pipeline.corpus(size)
            raw = pipeline.job_config(data, Path(tmp) / f"{scale}x", partition_mb)
            raw["preprocessing"] = {**raw["preprocessing"], "keep_removed": False}
            raw["preprocessing"]["near_dedup"] = {"enabled": True}
            cfg = parse_config(raw).resolved()
            plan = plan_partitions(cfg)
            cfg_json = cfg.model_dump_json()
            with multiprocessing.get_context("fork").Pool(2) as pool:
                pool.map(_process, [(cfg_json, i, [p.to_dict() for p in pieces]) for i, pieces in enumerate(plan)])
            work = Path(cfg.work_dir) / "bench"
            row: dict = {"mb": size, "partitions": len(plan)}
            seen = {}
            for mode, per_task in MODES.items():
                pre = cfg.preprocessing.model_copy(update={"dedup_task_partitions": per_task})
                # The rounds at every size (by default a job of up to 8 ranges joins its clusters in one task).
                pre.near_dedup = pre.near_dedup.model_copy(update={"join_max_ranges": 1})
                mcfg = cfg.model_copy(update={"preprocessing": pre}).model_dump_json()
                for stage in STAGES:
                    run = subprocess.run(
                        [sys.executable, "-c", CHILD, mcfg, str(len(plan)), stage], capture_output=True, text=True
                    )
                    if run.returncode:
                        raise RuntimeError(f"{mode} {stage}: {run.stderr[-2000:]}")
                    row[(mode, stage)] = json.loads(run.stdout)
                seen[mode] = _decisions(work)
                for f in (work / "dedup" / "exact").glob("*"):
                    f.unlink()  # the next way writes its own hash ranges
            row["identical"] = seen["one task (before)"] == seen["hash ranges (after)"]
            out["scales"][scale] = row
            log(
                f"  {scale:>2}x {size:>4} MB, {len(plan)} partitions, same decisions: {row['identical']}: "
                + "; ".join(
                    f"{m.split()[0]} {s} {row[(m, s)]['units']} units {row[(m, s)]['longest_s']:.2f} s "
                    f"{row[(m, s)]['rss_mb']:.0f} MB"
                    for m in MODES
                    for s in STAGES
                )
            )
    return out


def longest(row: dict, mode: str) -> tuple[float, float]:
    """(the longest single dedup task's CPU-seconds, the biggest peak RSS of a dedup task) of one way."""
    return max(row[(mode, s)]["longest_s"] for s in STAGES), max(row[(mode, s)]["rss_mb"] for s in STAGES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=200, help="the corpus at 10x")
    ap.add_argument("--partition-mb", type=float, default=1.0)
    args = ap.parse_args()
    r = measure(args.mb, args.partition_mb)
    print(f"\n{'corpus':>12} {'partitions':>10} | " + " | ".join(f"{m:>34}" for m in MODES) + " | same")
    for scale, row in r["scales"].items():
        cells = []
        for mode in MODES:
            t, rss = longest(row, mode)
            worst = max(STAGES, key=lambda s, mode=mode: row[(mode, s)]["longest_s"])
            cells.append(f"{t:7.2f} s {rss:5.0f} MB ({worst:>10})")
        print(
            f"{scale:>3}x {row['mb']:>4} MB {row['partitions']:>10} | "
            + " | ".join(f"{c:>34}" for c in cells)
            + f" | {row['identical']}"
        )


if __name__ == "__main__":
    main()
