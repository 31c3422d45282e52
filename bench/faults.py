"""Faults, each run N times against a job with `celery beat` (the supervisor) running and nobody at the keyboard:

    python bench/faults.py                  # every fault 5 times (~25 minutes on 2 cores)
    python bench/faults.py --runs 2 --only worker-process,redis
    python bench/faults.py --default-timings  # heartbeats and heal rounds as deployed (10 / 30 / 15 s)

For each run it starts workers and beat as subprocesses, submits the 667-record fault corpus
(tests/integration/faultkit.py), breaks something mid-partition, never runs `auralith resume`, and checks
the job's manifest (tensor hashes, document/token counts, every removal figure) against an uninterrupted
run's; for training, the final weights' hash. It prints one table:

    fault | runs | finished without a human | output identical | moving again s (median/worst) | finished s

"moving again" is measured from the fault (a kill) or from the service being back (Redis, PostgreSQL) to the
first commit of the unit that was hit (a kill) or of a unit that was queued at the fault; "finished" from the
same moment to the job's end. Goals (issue 17): every run finishes without a human with identical output; a
killed worker's unit running again within 60 s; a restarted Redis or PostgreSQL job moving again within 30 s.

It touches no shared service: Redis and PostgreSQL are its own (redis-server, and initdb/pg_ctl from the
PostgreSQL server package), on free ports, removed at the end. Workers use the test seam
AURALITH_TEST_PARTITION_DELAY (1.5 s between a unit's writes and its commit, first attempt only) so that a
fault lands mid-unit.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from auralith.client import Client  # noqa: E402
from auralith.store import Store, migrate  # noqa: E402
from auralith.store.models import JobState, PartitionState  # noqa: E402
from tests.integration import faultkit as fk  # noqa: E402

PG_OUTAGE_S = 30


@dataclass
class Run:
    finished: bool
    identical: bool
    moving: float | None  # seconds from the fault (or service back) to the first commit of the work it hit
    done: float | None  # ... to the job's end
    note: str = ""


@dataclass
class Bench:
    tmp: Path
    redis: fk.RedisServer
    pg: fk.PostgresCluster
    corpus: Path
    tokenizer: Path
    reference: dict = field(default_factory=dict)
    train_reference: str = ""
    n: int = 0

    timings: dict = field(default_factory=lambda: dict(fk.HEALING_ENV))

    def env(self, **extra: str) -> dict:
        return {
            **os.environ,
            "AURALITH_BROKER_URL": self.redis.url,
            "AURALITH_STORE_URL": self.pg.url,
            "AURALITH_TEST_PARTITION_DELAY": "1.5",
            **self.timings,
            **extra,
        }

    def submit(self, env: dict) -> str:
        self.n += 1
        config = fk.write_config(self.tmp, self.tokenizer, f"run{self.n}", f"{self.corpus}/*.jsonl")
        return fk.cli(env, "submit", str(config))

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}-{self.n}.log"

    def outcome(self, job_id: str, t0: float, moving: float | None) -> Run:
        info = Client(store_url=self.pg.url).wait(job_id, timeout=300)
        done = time.monotonic() - t0
        if info.state != JobState.SUCCEEDED:
            return Run(False, False, moving, None, info.error or info.state)
        return Run(True, fk.manifest_summary(info.output) == self.reference, moving, done)


def committed(store: str, job_id: str, stage: str, index: int) -> bool:
    return Store(store).get_partition(job_id, stage, index).state == PartitionState.COMMITTED


def kill_worker(stage: str) -> Callable[[Bench], Run]:
    def run(b: Bench) -> Run:
        env = b.env()
        worker, beat = fk.Worker(env, b.log("worker")), fk.Beat(env, b.log("beat"))
        try:
            job_id = b.submit(env)
            victim = fk.wait_until(lambda: fk.started_first_attempt(b.pg.url, job_id, stage), 120, f"{stage} unit")
            worker.kill()
            t0 = time.monotonic()
            worker = fk.Worker(env, b.log("worker"))
            fk.wait_until(lambda: committed(b.pg.url, job_id, stage, victim.index), 300, "the unit to run again")
            return b.outcome(job_id, t0, time.monotonic() - t0)
        finally:
            worker.kill()
            beat.kill()

    return run


def kill_pool_process(b: Bench) -> Run:
    env = b.env()
    worker, beat = fk.Worker(env, b.log("worker")), fk.Beat(env, b.log("beat"))
    try:
        job_id = b.submit(env)
        victim = fk.wait_until(lambda: fk.started_first_attempt(b.pg.url, job_id, "process"), 120, "a process unit")
        for child in worker.pool_children():
            os.kill(child, signal.SIGKILL)
        t0 = time.monotonic()
        fk.wait_until(lambda: committed(b.pg.url, job_id, "process", victim.index), 300, "the unit to run again")
        return b.outcome(job_id, t0, time.monotonic() - t0)
    finally:
        worker.kill()
        beat.kill()


def restart_redis(b: Bench) -> Run:
    env = b.env()
    worker, beat = fk.Worker(env, b.log("worker")), fk.Beat(env, b.log("beat"))
    try:
        job_id = b.submit(env)
        fk.wait_until(
            lambda: (
                fk.committed(b.pg.url, job_id, "process") >= 1 and fk.started_first_attempt(b.pg.url, job_id, "process")
            ),
            120,
            "a partition mid-way",
        )
        b.redis.restart()  # no persistence: every queued message is gone
        recovery = fk.Recovery(b.pg.url, job_id, queued_only=True)
        moving = recovery.wait_progress(timeout=300)
        return b.outcome(job_id, recovery.fault_at, moving)
    finally:
        worker.kill()
        beat.kill()


def stop_postgres(b: Bench) -> Run:
    env = b.env(AURALITH_TEST_PARTITION_DELAY="3")
    worker, beat = fk.Worker(env, b.log("worker"), concurrency=2), fk.Beat(env, b.log("beat"))
    try:
        job_id = b.submit(env)
        fk.wait_until(lambda: fk.started_first_attempt(b.pg.url, job_id, "process"), 120, "a partition mid-way")
        b.pg.stop("fast")
        time.sleep(PG_OUTAGE_S)
        b.pg.start()
        recovery = fk.Recovery(b.pg.url, job_id)
        moving = recovery.wait_progress(timeout=300)
        return b.outcome(job_id, recovery.fault_at, moving)
    finally:
        worker.kill()
        beat.kill()


def kill_trainer(b: Bench) -> Run:
    from tests.integration.test_train_resume import TRAINING
    from tests.train.conftest import write_shards

    manifest = b.tmp / "shards" / "manifest.json"
    if not manifest.exists():
        write_shards(b.tmp / "shards", b.tokenizer)
    config = b.tmp / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "train",
                "sources": [{"path": "x.jsonl"}],
                "tokenization": {"tokenizer": str(b.tokenizer)},
                "work_dir": str(b.tmp / "train-work"),
                "training": TRAINING,
            }
        )
    )
    env = b.env()
    client = Client(b.redis.url, b.pg.url)
    trainer = fk.Worker(env, b.log("trainer"), queues="hpu", pool="solo")
    beat = fk.Beat(env, b.log("beat"))
    try:
        if not b.train_reference:
            ref = client.wait(client.train(config, manifest), timeout=300)
            b.train_reference = ref.training["params_sha256"]
        job_id = client.train(config, manifest)

        def past_step_37() -> bool:
            part = Store(b.pg.url).get_partition(job_id, "train", 0)
            return ((part and part.progress) or {}).get("step", 0) >= 37

        fk.wait_until(past_step_37, 120, "training past step 37", interval=0.01)
        trainer.kill()
        t0 = time.monotonic()
        trainer = fk.Worker(env, b.log("trainer"), queues="hpu", pool="solo")
        fk.wait_until(lambda: Store(b.pg.url).get_partition(job_id, "train", 0).attempts >= 2, 300, "a new attempt")
        moving = time.monotonic() - t0
        info = client.wait(job_id, timeout=300)
        done = time.monotonic() - t0
        if info.state != JobState.SUCCEEDED:
            return Run(False, False, moving, None, info.error or info.state)
        return Run(True, info.training["params_sha256"] == b.train_reference, moving, done)
    finally:
        trainer.kill()
        beat.kill()


FAULTS: dict[str, tuple[str, Callable[[Bench], Run]]] = {
    "worker-process": ("worker SIGKILL mid process", kill_worker("process")),
    "worker-tokenize": ("worker SIGKILL mid tokenize", kill_worker("tokenize")),
    "pool-process": ("pool process SIGKILL", kill_pool_process),
    "trainer": ("hpu worker SIGKILL mid-training", kill_trainer),
    "redis": ("Redis restarted, no persistence", restart_redis),
    "postgres": (f"PostgreSQL stopped {PG_OUTAGE_S} s", stop_postgres),
}


def reference_run(b: Bench) -> dict:
    env = b.env()
    worker = fk.Worker(env, b.log("worker"))
    try:
        info = Client(store_url=b.pg.url).wait(b.submit(env), timeout=300)
        assert info.state == JobState.SUCCEEDED, info.error
        return fk.manifest_summary(info.output)
    finally:
        worker.kill()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per fault")
    parser.add_argument("--only", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    parser.add_argument(
        "--default-timings",
        action="store_true",
        help="heartbeats every 10 s, dead after 30 s, a heal round every 15 s (as deployed) instead of 1 / 3 / 1 s",
    )
    args = parser.parse_args()
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FAULTS))
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")

    from auralith.steps.tokenize import train_bpe_tokenizer
    from tests.corpus import sentences

    with tempfile.TemporaryDirectory(prefix="auralith-faults-") as tmp_name:
        tmp = Path(tmp_name)
        redis, pg = fk.RedisServer(tmp / "redis"), fk.PostgresCluster()
        try:
            migrate.upgrade(pg.url)
            tokenizer = tmp / "tokenizer.json"
            tokenizer.write_text(train_bpe_tokenizer(sentences(400, seed=1), vocab_size=400).to_str())
            (tmp / "corpus").mkdir()
            b = Bench(tmp, redis, pg, fk.write_fault_corpus(tmp / "corpus"), tokenizer)
            if args.default_timings:
                b.timings = {}
            b.reference = reference_run(b)
            load = os.getloadavg()[0]
            rows = []
            for key in chosen:
                title, fault = FAULTS[key]
                runs = []
                for i in range(args.runs):
                    try:
                        run = fault(b)
                    except AssertionError as exc:  # a wait that timed out: not finished without a human
                        run = Run(False, False, None, None, str(exc).splitlines()[0])
                    runs.append(run)
                    print(f"  {title} #{i + 1}: {run}", file=sys.stderr, flush=True)
                rows.append((title, runs))
        finally:
            redis.kill()
            pg.destroy()

    timings = "default timings (10 / 30 / 15 s)" if args.default_timings else "test timings (1 / 3 / 1 s)"
    print(
        f"\nFaults, {args.runs} runs each, celery beat healing with {timings}, no `auralith resume` "
        f"(load before: {load:.1f})\n"
    )
    header = ("fault", "runs", "finished without a human", "output identical", "moving again s", "finished s")
    lines = [
        (
            title,
            str(len(runs)),
            f"{sum(r.finished for r in runs)}/{len(runs)}",
            f"{sum(r.identical for r in runs)}/{len(runs)}",
            spread([r.moving for r in runs if r.moving is not None]),
            spread([r.done for r in runs if r.done is not None]),
        )
        for title, runs in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for line in lines:
        print(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    print("\nseconds: median / worst; from the kill, or from Redis / PostgreSQL being back")
    for title, runs in rows:
        for r in runs:
            if r.note:
                print(f"{title}: {r.note}")


if __name__ == "__main__":
    main()
