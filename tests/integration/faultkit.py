"""Tools the fault tests break things with: subprocess workers, a private redis-server, a loopback TCP
proxy in front of PostgreSQL, and job helpers that compare a job's result with an uninterrupted run's.

Nothing here touches the shared services: the Redis that gets restarted is one this module started, and
PostgreSQL is "down" only behind a proxy the test owns.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
import yaml

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import PartitionState
from tests.corpus import REPO

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

    def __init__(self, env: dict, log: Path, queues: str = "default,process,tokenize", concurrency: int = 1):
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
            "prefork",
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
                shutil.which("redis-server") or "redis-server",
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


class TcpProxy:
    """A loopback TCP proxy to `target`; `cut()` refuses new connections and drops the open ones until
    `restore()`, which is how a database restart or a network partition looks to a client.

    Hand-written because it is 60 lines and needs a cut that no off-the-shelf proxy exposes to a test.
    """

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def cut(self) -> None:
        ls, self._listener = self._listener, None
        if ls:
            ls.close()  # nothing listens: connects are refused at once, like a stopped server
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    close = cut

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)


# --- jobs ---------------------------------------------------------------------------------------------


def write_config(tmp_path: Path, tokenizer_path: Path, name: str, data_glob: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": data_glob}],
                "partition_size_mb": 0.05,
                "preprocessing": {"quality": {"enabled": False}},  # synthetic sentences: keep them (and their shards)
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
