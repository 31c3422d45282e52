"""Tools the fault tests (and bench/faults.py) break things with: subprocess workers and beat, a private
redis-server and PostgreSQL cluster, and job helpers that compare a job's result with an uninterrupted run's.

Nothing here touches the shared services: the Redis that gets restarted and the PostgreSQL that gets stopped
are ones this module started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
import yaml

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import PartitionState
from tests.corpus import REPO, sentences, write_jsonl

files = Files()  # no job: the environment's storage settings

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - a service that is down on purpose: keep polling
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


class Worker:
    """`celery -A auralith worker` as a subprocess in a session of its own (one killpg takes it all)."""

    def __init__(
        self,
        env: dict,
        log: Path,
        queues: str = "default,process,dedup,tokenize",
        concurrency: int = 1,
        pool: str = "prefork",
    ):
        self.env, self.log = env, log
        cmd = [
            str(BIN / "celery"),
            "-A",
            "auralith",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "--pool",
            pool,
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"fault{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def pool_children(self) -> list[int]:
        """PIDs of the pool processes (children of the main worker process)."""
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    kids.append(int(entry))
        return kids

    def reconnected(self) -> bool:
        """The worker lost its broker connection and has connected again since (from its log)."""
        log = self.log.read_bytes()
        lost = log.rfind(b"Connection to broker lost")
        return lost >= 0 and b"Connected to redis" in log[lost:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as a crash or the OOM killer would."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


class Beat:
    """`celery -A auralith beat`: the supervisor, as deployed (auralith.worker.supervisor.HealScheduler)."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", "auralith", "beat", "-l", "INFO"],
            cwd=REPO,
            env=env,
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


# Heartbeats and heals on a test's time scale: a killed worker is found dead 3 s after its last heartbeat.
HEALING_ENV = {
    "AURALITH_HEARTBEAT_INTERVAL_S": "1",
    "AURALITH_HEARTBEAT_TIMEOUT_S": "3",
    "AURALITH_HEAL_INTERVAL_S": "1",
}


def require_binary(name: str, *candidates: str) -> str:
    """The path of a server binary a fault test needs; under CI=true its absence fails the test."""
    import pytest

    from tests.integration.conftest import IN_CI

    for path in (*candidates, shutil.which(name)):
        if path and Path(path).exists():
            return path
    message = f"{name} is not installed (the fault tests start their own server)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: must not skip", pytrace=False)
    pytest.skip(message)


class PostgresCluster:
    """A private PostgreSQL cluster (initdb, pg_ctl) on a free port, to be stopped and started mid-job.

    initdb refuses to run as root, so as root the server runs as the `postgres` user, in a folder it owns
    (under /tmp: pytest's own folders are closed to other users)."""

    def __init__(self):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        initdb = require_binary("initdb", *(str(v) for v in reversed(versions)))
        self.bin = Path(initdb).resolve().parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="auralith-pg-"))
        self.data = self.dir / "data"
        self._as_owner = os.geteuid() == 0
        if self._as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.chmod(0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "faults")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def _run(self, *cmd: str) -> None:
        if self._as_owner:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"{' '.join(cmd)}: {out.stdout}{out.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log = str(self.dir / "pg.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A private redis-server on a free port, to be killed and restarted (the shared one never is)."""

    def __init__(self, workdir: Path, appendonly: bool = False):
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [
                require_binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *aof,
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
            ],
            stdout=open(self.dir / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: redis.Redis(port=self.port, socket_connect_timeout=0.5).ping(), 10, "redis-server")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> float:
        """Kill -9 and start again on the same port; returns how long Redis was down (s)."""
        t0 = time.monotonic()
        self.kill()
        self.start()
        return time.monotonic() - t0


# --- jobs ---------------------------------------------------------------------------------------------


def write_fault_corpus(root: Path) -> Path:
    """~10 partitions (at 0.05 MB) of documents, exact duplicates, a broken line and empty texts, so every
    figure a fault could double or lose is exercised: 667 input records."""
    texts = sentences(600, seed=23)
    records = [{"id": f"d{i:04d}", "text": t} for i, t in enumerate(texts)]
    records += [{"id": f"dup{i:03d}", "text": texts[i * 7]} for i in range(60)]
    records += [{"id": f"e{i}", "text": ""} for i in range(5)]
    write_jsonl(root / "a.jsonl", records[:400])
    write_jsonl(root / "b.jsonl", records[400:])
    with open(root / "b.jsonl", "a") as fh:
        fh.write('{"id": "broken", "text": \n[1, 2]\n')
    return root


def write_config(tmp_path: Path, tokenizer_path: Path, name: str, data_glob: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": data_glob}],
                "partition_size_mb": 0.05,
                # Synthetic sentences: keep them (and their shards). Exact dedup cut into several hash ranges.
                "preprocessing": {"quality": {"enabled": False}, "dedup_task_partitions": 4},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": str(tmp_path / f"out-{name}"), "max_shard_size_mb": 0.02},
                "work_dir": str(tmp_path / f"work-{name}"),
            }
        )
    )
    return config


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([str(BIN / "auralith"), *args], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


def committed(store: str, job_id: str, stage: str | None = None) -> int:
    return sum(p.state == PartitionState.COMMITTED for p in Store(store).list_partitions(job_id, stage))


def started_first_attempt(store: str, job_id: str, stage: str):
    """A partition of `stage` running its first attempt (inside the test delay), or None."""
    for p in Store(store).list_partitions(job_id, stage):
        if p.state == PartitionState.STARTED and p.attempts == 1:
            return p
    return None


def manifest_summary(output_dir: str) -> dict:
    """What must match between runs: every shard's tensor hashes and the document/token figures (not
    timestamps or the job id)."""
    m = load_manifest(files, Path(output_dir) / "manifest.json")
    return {
        "shards": [(s["path"], s["tensors"]) for s in m["shards"]],
        "documents": m["documents"],
        "documents_in": m["documents_in"],
        "tokens": m["tokens"],
        "removed": m["removed"],
        "tokenizer": m["tokenizer"]["sha256"],
    }


class Recovery:
    """Times from a fault until the job makes progress again: the next partition commit, or with
    `queued_only` the first commit of a partition that was waiting in the queue at the fault (a task that
    was running then may commit whether the queue survived or not)."""

    def __init__(self, store: str, job_id: str, queued_only: bool = False):
        self.store, self.job_id = store, job_id
        self.fault_at = time.monotonic()
        parts = Store(store).list_partitions(job_id)
        self.watched = {
            p.id
            for p in parts
            if p.state == PartitionState.PENDING or not queued_only and p.state != PartitionState.COMMITTED
        }

    def progressed(self) -> bool:
        return any(
            p.id in self.watched and p.state == PartitionState.COMMITTED
            for p in Store(self.store).list_partitions(self.job_id)
        )

    def wait_progress(self, timeout: float = 90) -> float:
        wait_until(self.progressed, timeout, "a commit after the fault")
        return time.monotonic() - self.fault_at


def report(name: str, **figures: float) -> None:
    """One line per fault test, shown with `pytest -s` (figures for the notes)."""
    print(
        f"\n[fault] {name}: "
        + ", ".join(f"{k}={v:.1f}s" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()),
        flush=True,
    )
