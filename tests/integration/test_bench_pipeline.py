"""bench/pipeline.py against real services: its Celery run and its plain run do the same work.

The bench's ratio only means something if both sides write the same output, so this runs both on the demo
data with tiny partitions (a real `celery -A auralith worker` subprocess, Redis, PostgreSQL) and checks that
the token counts agree (main returns 1 when they do not).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import SUBPROCESS_REDIS_DB, flush_redis

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_celery_and_plain_runs_write_the_same_tokens(redis_base, pg_store, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(REPO / "examples" / "data" / "stdlib-a.jsonl", data)
    flush_redis(SUBPROCESS_REDIS_DB)
    # A subprocess: the bench points the Celery app at its own broker, which must not touch this session's. In a
    # session of its own, so that a bench that times out takes its Celery worker with it: a worker left behind on
    # this broker would take the next tests' tasks.
    bench = subprocess.Popen(
        [
            sys.executable,
            "bench/pipeline.py",
            "--data",
            str(data),
            "--tokenizer",
            str(REPO / "examples" / "tokenizer.json"),
            "--partition-sizes",
            "0.1",
            "--workers",
            "2",
            "--broker",
            f"{redis_base}/{SUBPROCESS_REDIS_DB}",
            "--store",
            pg_store,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = bench.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(bench.pid, signal.SIGKILL)
        bench.wait()
        _kill_bench_workers(bench.pid)
        flush_redis(SUBPROCESS_REDIS_DB)
    assert bench.returncode == 0, out + err[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("partition 0.1 MB"))
    tokens = line.split("tokens ")[1].split()[0:3]
    assert tokens[0] == tokens[2] and int(tokens[0]) > 10_000, line


def _kill_bench_workers(bench_pid: int) -> None:
    """Kill the Celery workers (and their pool processes) a bench started: they run in sessions of their own, so
    killing the bench does not take them, and they are named `bench{pid}@host`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if f"bench{bench_pid}@".encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)
