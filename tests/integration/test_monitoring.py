"""Operating a cluster: workers and queues, stuck partitions, webhook alerts, in-flight limits, Flower."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from celery import Celery, signals
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.observe.queues import queue_depths
from auralith.store import Store
from auralith.store.models import JobState, Partition, PartitionState
from auralith.worker.settings import celery_settings
from tests.corpus import REPO, sentences, write_jsonl
from tests.integration.conftest import SUBPROCESS_REDIS_DB

pytestmark = pytest.mark.integration


def _job(tmp_path: Path, tokenizer_path: Path, name: str, docs: int = 600, **extra) -> Path:
    write_jsonl(
        tmp_path / f"data-{name}" / "corpus.jsonl",
        [{"id": f"d{i:05d}", "text": t} for i, t in enumerate(sentences(docs, seed=5))],
    )
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "sources": [{"path": f"data-{name}/*.jsonl"}],
                "partition_size_mb": 0.01,
                # Short synthetic sentences: the quality filters (tested on their own) would remove most of them.
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": f"out-{name}"},
                "work_dir": f"work-{name}",
                **extra,
            }
        )
    )
    return config


def test_workers_lists_the_running_worker_with_its_queues(client):
    out = CliRunner().invoke(main, ["workers", "--json", "--timeout", "2"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    me = [w for w in found if w["pid"] == os.getpid()]  # the in-process test worker
    assert len(me) == 1, found
    assert me[0]["queues"] == ["dedup", "default", "hpu", "process", "tokenize"]
    assert me[0]["heartbeat"] and me[0]["max_rss_mib"] > 0 and me[0]["concurrency"] == 2
    # Its heartbeat in the store (written by the worker's own thread) and its ping reply, joined by name.
    assert (me[0]["state"], me[0]["answered"]) == ("alive", True) and me[0][
        "heartbeat_age_s"
    ] < client.heartbeat_timeout
    # The same worker through the Client API. Only this one: other tests' workers in the shared store may age past
    # the timeout (and move down the list), stop or be forgotten between the two calls.
    mine = [(w.hostname, w.state, w.queues) for w in client.list_workers(2.0) if w.pid == os.getpid()]
    assert mine == [(me[0]["hostname"], me[0]["state"], me[0]["queues"])]
    table = CliRunner().invoke(main, ["workers"])
    assert str(os.getpid()) in table.output and "peak" in table.output


def test_queue_depths_per_priority_band(redis_base):
    # An app of its own on the other test database, with queue names nobody else uses.
    broker = f"{redis_base}/{SUBPROCESS_REDIS_DB}"
    other = Celery("depths", broker=broker, set_as_current=False)
    other.conf.update(
        {k: v for k, v in celery_settings({"AURALITH_BROKER_URL": broker}).items() if k.startswith("broker")}
    )
    names = [f"depth-test-{os.getpid()}-a", f"depth-test-{os.getpid()}-b"]
    try:
        for priority, n in ((0, 3), (9, 2), (3, 1)):
            for _ in range(n):
                other.send_task("auralith.nothing", queue=names[0], priority=priority)
        found = queue_depths(other, names)
        assert [(q.name, q.messages, q.by_priority) for q in found.queues] == [
            (names[0], 6, {0: 3, 3: 1, 9: 2}),
            (names[1], 0, {}),
        ]
    finally:
        with other.connection_for_write() as conn:
            for name in names:
                conn.default_channel.queue_purge(name)


def test_queues_command_and_metrics_data(client):
    out = CliRunner().invoke(main, ["queues", "--json"])
    assert out.exit_code == 0, out.output
    assert [q["name"] for q in json.loads(out.output)["queues"]] == ["default", "process", "dedup", "tokenize", "hpu"]
    metrics = client.get_metrics()
    assert set(metrics["queues"]) == {"default", "process", "dedup", "tokenize", "hpu"}
    assert {"jobs", "partitions", "documents_processed", "tokens_processed", "removed"} <= set(metrics)


def test_status_reports_a_unit_on_a_silent_worker_and_resume_redoes_it(client, tokenizer_path, tmp_path, pg_store):
    job_id = client.submit(_job(tmp_path, tokenizer_path, "stuck"))
    assert client.wait(job_id, timeout=120).state == JobState.SUCCEEDED
    # What a worker that died mid-partition a minute ago leaves behind: the row started, under a name that
    # writes no heartbeat.
    part = Store(pg_store).get_partition(job_id, "tokenize", 1)
    from datetime import timedelta

    from sqlalchemy import update

    from auralith.store.db import session_scope

    with session_scope(pg_store) as s:
        s.execute(
            update(Partition)
            .where(Partition.id == part.id)
            .values(
                state=PartitionState.STARTED,
                worker="celery@gone-host",
                output_ref=None,
                started_at=Store(pg_store).db_now() - timedelta(seconds=60),
            )
        )
    Store(pg_store).set_job_state(job_id, JobState.RUNNING)

    runner = CliRunner()
    status = json.loads(runner.invoke(main, ["status", job_id, "--json"]).output)
    assert [(p["stage"], p["index"], p["worker"], p["silent_s"]) for p in status["stuck"]] == [
        ("tokenize", 1, "celery@gone-host", None)
    ]
    text = runner.invoke(main, ["status", job_id]).output
    assert "tokenize 1 on celery@gone-host" in text and "(no heartbeat)" in text
    assert "the supervisor sends them again by itself" in text

    # No supervisor runs in this test session: a resume sends it again.

    assert runner.invoke(main, ["resume", job_id]).exit_code == 0
    info = client.wait(job_id, timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error
    redone = Store(pg_store).get_partition(job_id, "tokenize", 1)
    assert redone.state == PartitionState.COMMITTED and redone.worker != "celery@gone-host"
    assert client.stuck_partitions(job_id) == []


class _Hook(BaseHTTPRequestHandler):
    """Records POSTed JSON; answers 503 to the first `fail_first` requests."""

    received: list[tuple[str, dict]] = []
    fail_first = 0
    calls = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        cls = type(self)
        cls.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if cls.calls <= cls.fail_first:
            self.send_response(503)
        else:
            cls.received.append((self.path, body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_alerts_survive_a_failing_endpoint_and_never_show_the_secret(
    client, tokenizer_path, tmp_path, monkeypatch, pg_store
):
    _Hook.received, _Hook.fail_first, _Hook.calls = [], 3, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "hook-s3cret-4f9a"
    monkeypatch.setenv("AURALITH_TEST_HOOK_TOKEN", secret)  # the in-process worker reads this environment
    monkeypatch.setenv("AURALITH_WEBHOOK_HOSTS", "127.0.0.1")  # loopback: allowed only when named
    url = f"http://127.0.0.1:{server.server_address[1]}/hook/${{AURALITH_TEST_HOOK_TOKEN}}"
    try:
        job_id = client.submit(
            _job(
                tmp_path,
                tokenizer_path,
                "alerts",
                events={
                    "jsonl": "events/{job_id}.jsonl",
                    "webhook": {"url": url, "max_retries": 6, "retry_backoff": 0.2, "timeout": 5},
                },
            )
        )
        assert client.wait(job_id, timeout=120).state == JobState.SUCCEEDED
        deadline = time.monotonic() + 30
        while not any(b["kind"] == "finished" for _, b in _Hook.received):
            assert time.monotonic() < deadline, _Hook.received
            time.sleep(0.1)
    finally:
        server.shutdown()
    kinds = sorted(b["kind"] for _, b in _Hook.received)
    assert kinds == ["finished", "stage_done", "stage_done", "stage_done", "started"]
    assert {p for p, _ in _Hook.received} == {f"/hook/{secret}"} and _Hook.calls == 5 + 3
    assert all(b["job_id"] == job_id for _, b in _Hook.received)
    # The JSONL log has every event, `submitted` included.
    log = [json.loads(line) for line in (tmp_path / "events" / f"{job_id}.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in log][0] == "submitted" and log[-1]["kind"] == "finished"
    # The secret is in no stored or shown text.
    runner = CliRunner()
    shown = runner.invoke(main, ["status", job_id, "--json"]).output + runner.invoke(main, ["logs", job_id]).output
    assert secret not in shown and secret not in json.dumps(Store(pg_store).get_job(job_id).config)
    assert "${AURALITH_TEST_HOOK_TOKEN}" in Store(pg_store).get_job(job_id).config["events"]["webhook"]["url"]


def test_max_partitions_in_flight_is_respected(client, tokenizer_path, tmp_path, pg_store, monkeypatch):
    from auralith.pipeline import process as process_stage
    from auralith.worker import base

    # The in-process worker runs these modules. Partition 0 holds the job's one slot until another
    # partition has asked more times than its 8 error retries: waiting must not use them up.
    monkeypatch.setattr(base, "THROTTLE_DELAY", 0.05)
    waits: Counter[str] = Counter()
    process = process_stage.process_partition

    def slow_partition_0(cfg, pieces, paths, index, progress=None):
        deadline = time.monotonic() + 60
        while index == 0 and max(waits.values(), default=0) <= 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        return process(cfg, pieces, paths, index, progress)

    monkeypatch.setattr(process_stage, "process_partition", slow_partition_0)

    def count(request=None, **_):
        waits[request.id] += 1

    signals.task_retry.connect(count, weak=False)
    try:
        job_id = client.submit(
            _job(tmp_path, tokenizer_path, "throttled", docs=900, limits={"max_partitions_in_flight": 1})
        )
        info = client.wait(job_id, timeout=180)
    finally:
        signals.task_retry.disconnect(count)
    assert info.state == JobState.SUCCEEDED, info.error
    assert max(waits.values()) > 10  # more waits than error retries, and the job still succeeded
    spans = sorted((p.started_at, p.finished_at) for p in Store(pg_store).list_partitions(job_id))
    assert len(spans) >= 5
    # The worker runs two tasks at a time, but never two partitions of this job at once.
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flower_from_the_procfile_line_needs_auth_and_serves_metrics(redis_base, tmp_path):
    line = next(x for x in (REPO / "Procfile").read_text().splitlines() if x.startswith("web:"))
    port = _free_port()
    env = {
        **os.environ,
        "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        "FLOWER_PORT": str(port),
        "FLOWER_BASIC_AUTH": "admin:fl0wer-pass",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("FLOWER_ADDRESS", None)
    proc = subprocess.Popen(
        ["bash", "-c", line.split(":", 1)[1]],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
                time.sleep(0.5)
        assert re.search(r"^# TYPE flower_\w+", metrics, re.M), metrics[:500]
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/api/workers", timeout=5)
        assert denied.value.code == 401
        auth = base64.b64encode(b"admin:fl0wer-pass").decode()
        ok = urllib.request.urlopen(
            urllib.request.Request(f"{base}/api/workers", headers={"Authorization": f"Basic {auth}"}), timeout=10
        )
        assert ok.status == 200
        # Bound to loopback only, and the password is not on the command line for `ps` to show.
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
        cmdlines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert "fl0wer-pass" not in cmdlines
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


def test_flower_start_needs_credentials(tmp_path):
    line = next(x for x in (REPO / "Procfile").read_text().splitlines() if x.startswith("web:"))
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    out = subprocess.run(
        ["bash", "-c", line.split(":", 1)[1]], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode != 0 and "set FLOWER_BASIC_AUTH=user:password" in out.stderr
