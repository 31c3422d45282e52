"""The embedded worker's broker poll interval: the same job, embedded with 2 processes, at each interval in
alternating rounds, then an idle embedded worker's CPU at each (`python bench/embedded_poll.py --mb 20`).

The embedded `auralith run` worker polls its SQLite broker every AURALITH_EMBEDDED_POLL_S seconds: each message
waits half an interval on average, and an idle worker spends CPU on the polls. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pipeline  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from auralith.embedded import embedded_client
    from auralith.worker.embedded import embedded_worker_pid
    from auralith.worker.embedded_process import POLL_ENV

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--intervals", default="0.1,0.05,0.02", help="comma-separated poll intervals, seconds")
    ap.add_argument("--idle-s", type=float, default=20.0)
    args = ap.parse_args(argv)
    intervals = args.intervals.split(",")
    data = pipeline.corpus(args.mb)
    runs: dict[str, list[pipeline.Run]] = {p: [] for p in intervals}
    for rnd in range(args.rounds):
        for poll in intervals:
            os.environ[POLL_ENV] = poll  # the embedded worker process reads it at its start
            with tempfile.TemporaryDirectory() as tmp:
                work = pipeline.fresh_work(Path(tmp), "embedded")
                run = pipeline.run_embedded(pipeline.job_config(data, work, None), 2, work)
            runs[poll].append(run)
            print(f"round {rnd + 1} poll {poll} s: {run.wall_s:.2f} s {run.cpu_s:.2f} CPU-s load {run.load[0]:.2f}")
    print(f"\n{'poll interval':>14} | {'wall, median':>12} | {'CPU-s, median':>13} | idle worker's CPU")
    for poll in intervals:
        os.environ[POLL_ENV] = poll
        with tempfile.TemporaryDirectory() as tmp, embedded_client(Path(tmp) / "state", 2):
            pid = embedded_worker_pid()
            time.sleep(5)  # its children started
            cpu0 = pipeline.tree_cpu_s(pid)
            time.sleep(args.idle_s)
            idle = (pipeline.tree_cpu_s(pid) - cpu0) / args.idle_s
        wall = statistics.median(r.wall_s for r in runs[poll])
        cpu = statistics.median(r.cpu_s for r in runs[poll])
        print(f"{poll + ' s':>14} | {wall:>10.2f} s | {cpu:>13.2f} | {idle:.1%} of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
