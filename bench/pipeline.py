"""A whole job through Celery (Redis + PostgreSQL, real worker processes) vs the same steps in plain processes.

    python bench/pipeline.py --mb 200                      # overhead and scaling at 200 MB
    python bench/pipeline.py --mb 80 --partition-sizes 4,8,16,32

Both sides run the same runners (`auralith.pipeline.runners`) over the same planned partitions with the same
config: plan, process every partition, exact dedup, tokenize every partition, write the manifest. The Celery
side is what users run: `celery -A auralith worker -Q default,process,dedup,tokenize -c N` in its own process, the job
sent with `Client.submit`, timed from the send to the job's `finished_at` (written by the worker). The plain
side is what a home-made script would do with the same functions: a `multiprocessing` pool of N processes
(N = 1: a loop in this process), `imap_unordered` one partition at a time, the dedup decision in the parent.
So the difference is what Celery and the store add: messages, the claim/progress/commit SQL writes, chord
bookkeeping and the stage hand-offs, not the work itself. Both sides' token counts must match.

Peak RSS per worker is each prefork child's own `VmHWM` (`ru_maxrss` of children would count the parent's
memory copied at fork), read before the worker stops.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import real_text_documents  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("AURALITH_BENCH_CACHE", REPO / "bench" / ".cache"))
MB = 2**20
FILE_MB = 32  # the corpus is written as ~32 MB JSONL files, like a dataset's shards
DEFAULT_BROKER = "redis://127.0.0.1:6379/6"
DEFAULT_STORE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def corpus(mb: int) -> Path:
    """A folder of JSONL files holding about `mb` MB of real text (built once, cached in bench/.cache)."""
    folder = CACHE / f"corpus-{mb}mb"
    if (folder / "DONE").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    fh, k, size = None, 0, 0
    for i, text in enumerate(real_text_documents(mb, seed=1)):
        if fh is None or size >= FILE_MB * MB:
            if fh:
                fh.close()
            fh, size, k = open(folder / f"part-{k:03d}.jsonl", "w", encoding="utf-8"), 0, k + 1
        line = json.dumps({"id": f"d{i}", "text": text}, ensure_ascii=False) + "\n"
        fh.write(line)
        size += len(line.encode())
    fh.close()
    (folder / "DONE").touch()
    return folder


def tokenizer(vocab_size: int = 16384) -> Path:
    """A byte-level BPE tokenizer trained on 8 MB of the same kind of text (cached)."""
    path = CACHE / f"tokenizer-{vocab_size}.json"
    if not path.exists():
        from auralith.steps.tokenize import train_bpe_tokenizer

        CACHE.mkdir(parents=True, exist_ok=True)
        train_bpe_tokenizer(real_text_documents(8, seed=9), vocab_size).save(str(path))
    return path


def size_label(partition_mb: float | None) -> str:
    """`16 MB`, or `auto` for an unset partition_size_mb (chosen by the planner)."""
    return "auto" if partition_mb is None else f"{partition_mb:g} MB"


def job_config(data: Path, work: Path, partition_mb: float | None, tokenizer_path: Path | None = None) -> dict:
    """The demo job's preprocessing (examples/demo.yaml: quality chain relaxed for documentation text, PII,
    exact dedup, removed documents kept aside) over the bench corpus. With datatrove's web-page defaults
    95% of man pages go, which would leave the tokenize stage nothing to do."""
    demo = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text())
    return {
        "name": "bench",
        "preprocessing": demo["preprocessing"],
        "sources": [{"path": str(data / "*.jsonl")}],
        **({"partition_size_mb": partition_mb} if partition_mb is not None else {}),
        "work_dir": str(work / "work"),
        "tokenization": {"tokenizer": str(tokenizer_path or tokenizer())},
        "output": {"path": str(work / "out")},
    }


@dataclass(order=True)
class Run:
    wall_s: float
    tokens: int
    partitions: int
    rss_mb: list[float] = field(compare=False)  # peak RSS of each worker process (Celery) / pool process (plain)
    # Seconds in each phase: start (to the first partition), process, handoff (dedup and what surrounds it),
    # tokenize, end (after the last shard): where Celery's extra time goes.
    phases: dict[str, float] = field(default_factory=dict, compare=False)
    # CPU-seconds the job took in every process involved (workers, their children, the submitting process),
    # and the machine's 1-minute load average at its start and end: the other engineers' load, for the record.
    cpu_s: float = field(default=0.0, compare=False)
    load: tuple[float, float] = field(default=(0.0, 0.0), compare=False)
    job_id: str = field(default="", compare=False)


# --- plain processes -------------------------------------------------------------------------------------

_CFG = None  # set in the parent before the pool forks


def _process(args):
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.process import process_partition
    from auralith.sources.documents import FilePiece

    index, pieces = args
    process_partition(_CFG, [FilePiece.from_dict(p) for p in pieces], WorkPaths.for_job(_CFG, "plain"), index)
    return index


def _tokenize(index):
    from auralith.pipeline.exact_dedup import read_drops
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.tokenize import tokenize_partition

    paths = WorkPaths.for_job(_CFG, "plain")
    counts, ref = tokenize_partition(_CFG, paths, index, read_drops(paths, index))
    return index, counts["tokens"], ref["shards"]


def _hwm_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _pool_hwm(_):
    time.sleep(0.2)  # so each pool process takes one of these
    return os.getpid(), _hwm_mb()


def run_plain(config: dict, processes: int) -> Run:
    """The job's steps with no Celery and no store: plan, process, dedup, tokenize, manifest."""
    global _CFG
    from auralith.config import parse_config
    from auralith.pipeline.exact_dedup import decide_dedup
    from auralith.pipeline.output import claim_output, remove_stale_shards
    from auralith.pipeline.paths import WorkPaths
    from auralith.pipeline.plan import plan_partitions
    from auralith.steps.shards import write_manifest
    from auralith.steps.tokenize import check_tokenizer
    from auralith.storage import Files

    _CFG = parse_config(config).resolved()
    files = Files(_CFG.storage)
    pool = multiprocessing.get_context("fork").Pool(processes) if processes > 1 else None
    mapper = (lambda fn, items: pool.imap_unordered(fn, items, chunksize=1)) if pool else map
    load = os.getloadavg()[0]
    cpu0 = tree_cpu_s(os.getpid())
    marks = [time.perf_counter()]
    # As run_job does, and `auralith run`: fail on a bad tokenizer before the work. Each pool process then
    # loads it once, at its first tokenize partition, as each worker process does.
    check_tokenizer(_CFG.tokenization)
    # An unset partition_size_mb is cut for the processes a Celery worker on this machine would count (its
    # cores: auralith.worker.worker_count), so both sides of a comparison run the same partitions.
    plan = plan_partitions(_CFG, os.cpu_count())
    remove_stale_shards(files, _CFG.output.path)
    claim_output(files, _CFG.output.path, "plain")
    marks.append(time.perf_counter())
    list(mapper(_process, [(i, [p.to_dict() for p in pieces]) for i, pieces in enumerate(plan)]))
    marks.append(time.perf_counter())
    decide_dedup(WorkPaths.for_job(_CFG, "plain"), len(plan))
    marks.append(time.perf_counter())
    done = sorted(mapper(_tokenize, range(len(plan))))
    marks.append(time.perf_counter())
    write_manifest(files, _CFG.output.path, {"shards": [s for _, _, shards in done for s in shards]})
    marks.append(time.perf_counter())
    wall = marks[-1] - marks[0]
    cpu = tree_cpu_s(os.getpid()) - cpu0
    rss = (
        sorted({pid: mb for pid, mb in pool.map(_pool_hwm, range(processes * 4), chunksize=1)}.values())
        if pool
        else [_hwm_mb()]
    )
    if pool:
        pool.close()
        pool.join()
    return Run(
        wall,
        sum(t for _, t, _ in done),
        len(plan),
        rss,
        dict(zip(PHASES, (b - a for a, b in zip(marks, marks[1:], strict=False)), strict=True)),
        cpu,
        (load, os.getloadavg()[0]),
    )


PHASES = ("start", "process", "handoff", "tokenize", "end")


def celery_phases(store: str, job_id: str, sent: float, finished: float) -> dict[str, float]:
    """The same phases as run_plain's, from the partition rows' start and finish times."""
    from auralith.store import Store

    spans = {}
    for stage in ("process", "tokenize"):
        parts = Store(store).list_partitions(job_id, stage)
        spans[stage] = (min(p.started_at.timestamp() for p in parts), max(p.finished_at.timestamp() for p in parts))
    return {
        "start": spans["process"][0] - sent,
        "process": spans["process"][1] - spans["process"][0],
        "handoff": spans["tokenize"][0] - spans["process"][1],
        "tokenize": spans["tokenize"][1] - spans["tokenize"][0],
        "end": finished - spans["tokenize"][1],
    }


# --- Celery ----------------------------------------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK")
# The shared machine's control: Linux gives each session (autogroup) an equal share of the CPUs, whatever the
# number of processes in it, so on a machine where other people's sessions are busy a 2-process job gets the
# share of one session and cannot scale. AURALITH_BENCH_NICE=-20 (root only) raises the weight of the bench's
# sessions (its own and each worker's, which starts a session of its own) for the run: the figures are then
# the job's, not the neighbours'.
BENCH_NICE = os.environ.get("AURALITH_BENCH_NICE")


def boost(pid: int | str = "self") -> None:
    """Give the session (autogroup) of `pid` the nice value AURALITH_BENCH_NICE, when set."""
    if BENCH_NICE:
        with open(f"/proc/{pid}/autogroup", "w") as fh:
            fh.write(BENCH_NICE)


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds of a process and its live descendants, with what their exited and waited-for children used."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted from the state field (3) here.
    own = sum(int(f) for f in fields[11:15]) / _TICK
    return own + sum(tree_cpu_s(c) for c in _children(pid))


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


class Worker:
    """`celery -A auralith worker` in its own process group, against the bench's broker and store."""

    def __init__(self, env: dict, concurrency: int, queues: str = "default,process,dedup,tokenize"):
        self.env = env
        # A file, not a pipe: nothing reads the worker's output while it runs, and a full pipe would stall it.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "auralith",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
                "-n",
                f"bench{os.getpid()}@%h",
            ],
            cwd=REPO,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.concurrency = concurrency
        boost(self.proc.pid)
        deadline = time.monotonic() + 60
        while len(_children(self.proc.pid)) < concurrency:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                output = self.log.read().decode()[-2000:]
                self.stop()
                raise RuntimeError(f"the Celery worker did not start: {output}")
            time.sleep(0.2)
        time.sleep(1.0)  # children import the task modules after fork

    def child_rss_mb(self) -> list[float]:
        return sorted(_hwm_mb(pid) for pid in _children(self.proc.pid))

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it already exited
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def bench_env(broker: str, store: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURALITH_")}
    return {**env, "AURALITH_BROKER_URL": broker, "AURALITH_STORE_URL": store, "PYTHONPATH": str(REPO)}


def flush_broker(broker: str) -> None:
    import redis

    redis.Redis.from_url(broker).flushdb()


def run_celery(
    config: dict,
    concurrency: int,
    broker: str,
    store: str,
    queues: str = "default,process,dedup,tokenize",
    timeout: float = 3600,
) -> Run:
    """Submit the job to a fresh worker with `concurrency` prefork processes; wall = send to finished_at. A job
    still running after `timeout` seconds stops the bench (and its worker)."""
    from auralith.client import Client

    flush_broker(broker)
    env = bench_env(broker, store)
    os.environ.update({"AURALITH_BROKER_URL": broker, "AURALITH_STORE_URL": store})
    client = Client(broker, store)
    worker = Worker(env, concurrency, queues)
    try:
        load = os.getloadavg()[0]
        cpu0 = tree_cpu_s(worker.proc.pid) + time.process_time()
        start = time.time()
        job_id = client.submit(config)
        info = client.wait(job_id, timeout=timeout, poll=0.5)
        if info.state != "succeeded":
            raise RuntimeError(f"bench job {job_id} ended {info.state}: {info.error}")
        wall = info.finished_at.timestamp() - start
        cpu = tree_cpu_s(worker.proc.pid) + time.process_time() - cpu0
        rss = worker.child_rss_mb()
    finally:
        worker.stop()
    return Run(
        wall,
        info.stats.tokens,
        info.stats.stages["process"].total,
        rss,
        celery_phases(store, job_id, start, info.finished_at.timestamp()),
        cpu,
        (load, os.getloadavg()[0]),
        job_id,
    )


def run_embedded(config: dict, workers: int, work: Path) -> Run:
    """The job as `auralith run --workers N` runs it: a worker process with N prefork children on the SQLite
    broker and store in a new state folder under `work`, the supervisor in a thread here; timed like run_celery,
    from the send to finished_at, once the worker has started (its start-up is printed apart by `auralith run`)."""
    from auralith.embedded import embedded_client
    from auralith.worker.embedded import embedded_worker_pid

    # A new state dir each run: this process keeps its engines by URL, and one on a file that was deleted and
    # made again would write to the old one.
    state_dir = Path(tempfile.mkdtemp(dir=work, prefix="state-"))
    with embedded_client(state_dir, workers) as client:
        worker = embedded_worker_pid()
        boost(worker)
        deadline = time.monotonic() + 60
        while len(_children(worker)) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # children import the task modules after fork, as in Worker()
        load = os.getloadavg()[0]
        cpu0 = tree_cpu_s(worker) + time.process_time()
        start = time.time()
        job_id = client.submit(config)
        info = client.wait(job_id, timeout=3600, poll=0.5)
        if info.state != "succeeded":
            raise RuntimeError(f"bench job {job_id} ended {info.state}: {info.error}")
        cpu = tree_cpu_s(worker) + time.process_time() - cpu0
        rss = sorted(_hwm_mb(pid) for pid in _children(worker))
        phases = celery_phases(client.store_url, job_id, start, info.finished_at.timestamp())
    return Run(
        info.finished_at.timestamp() - start,
        info.stats.tokens,
        info.stats.stages["process"].total,
        rss,
        phases,
        cpu,
        (load, os.getloadavg()[0]),
    )


def fresh_work(tmp: Path, name: str) -> Path:
    work = tmp / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="corpus size (built from this machine's text, cached)")
    ap.add_argument("--data", type=Path, help="a folder of *.jsonl files to use instead of the built corpus")
    ap.add_argument("--tokenizer", type=Path, help="a tokenizer.json instead of the bench's 16k BPE")
    ap.add_argument("--partition-sizes", default="32", help="comma-separated partition_size_mb values")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--broker", default=os.environ.get("AURALITH_BENCH_BROKER", DEFAULT_BROKER))
    ap.add_argument("--store", default=os.environ.get("AURALITH_BENCH_STORE", DEFAULT_STORE))
    args = ap.parse_args(argv)
    data = args.data or corpus(args.mb)
    print(f"corpus: {data}")
    same = True
    with tempfile.TemporaryDirectory(prefix="auralith-bench-") as tmp:
        for size in [float(s) for s in args.partition_sizes.split(",")]:
            work = fresh_work(Path(tmp), "celery")
            c = run_celery(job_config(data, work, size, args.tokenizer), args.workers, args.broker, args.store)
            work = fresh_work(Path(tmp), "plain")
            p = run_plain(job_config(data, work, size, args.tokenizer), args.workers)
            same &= c.tokens == p.tokens
            print(
                f"partition {size:g} MB ({c.partitions}): celery {c.wall_s:.1f} s  plain {p.wall_s:.1f} s  "
                f"overhead {c.wall_s / p.wall_s - 1:+.1%}  tokens {c.tokens} / {p.tokens}  "
                f"peak RSS per process: celery {', '.join(f'{r:.0f}' for r in c.rss_mb)} MB, "
                f"plain {', '.join(f'{r:.0f}' for r in p.rss_mb)} MB"
            )
            for name, run in (("celery", c), ("plain", p)):
                print(f"  {name:<6} phases: " + "  ".join(f"{k} {v:.2f} s" for k, v in run.phases.items()))
    if not same:
        print("the Celery and plain runs wrote different token counts", file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
