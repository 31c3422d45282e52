"""Job priorities on real brokers: a critical job overtakes a backlog of low ones on Redis with a real
worker process, and RabbitMQ serves messages by Auralith's priorities from queues declared as Auralith
declares them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from celery import Celery
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from auralith.observe.queues import queue_depths
from auralith.store import Store
from auralith.store.models import JobState
from auralith.worker.settings import message_priority, task_queues
from tests.corpus import REPO
from tests.integration.conftest import IN_CI, SUBPROCESS_REDIS_DB, flush_redis
from tests.integration.test_monitoring import _free_port, _job

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
RABBIT_URL = os.environ.get("AURALITH_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")


def _worker(env: dict, log: Path) -> subprocess.Popen:
    cmd = [
        str(BIN / "celery"),
        "-A",
        "auralith",
        "worker",
        "-Q",
        "default,process,dedup,tokenize",
        "-c",
        "1",
        "--pool",
        "prefork",
        "-l",
        "INFO",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"prio-{os.getpid()}@%h",
    ]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _submit(env: dict, priority: str, *configs: Path) -> list[str]:
    script = (
        "import sys; from auralith.client import Client; c = Client(); "
        "print(' '.join(c.submit(p, priority=sys.argv[1]) for p in sys.argv[2:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, priority, *map(str, configs)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_critical_job_overtakes_a_backlog_of_low_ones(client, redis_base, pg_store, tokenizer_path, tmp_path):
    flush_redis(SUBPROCESS_REDIS_DB)
    prom = tmp_path / "prom"
    prom.mkdir()
    env = {
        **os.environ,
        "AURALITH_BROKER_URL": f"{redis_base}/{SUBPROCESS_REDIS_DB}",
        "AURALITH_STORE_URL": pg_store,
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
    }
    lows = _submit(env, "low", *(_job(tmp_path, tokenizer_path, f"low{i}", docs=700) for i in range(3)))
    log = tmp_path / "worker.log"
    worker = _worker(env, log)
    try:
        # The low jobs' run_job tasks go first (they were queued first); once all four have planned, their
        # partitions are the backlog.
        deadline = time.monotonic() + 120
        while not all(any(p.task_id for p in Store(pg_store).list_partitions(j, "process")) for j in lows):
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        [critical] = _submit(env, "critical", _job(tmp_path, tokenizer_path, "critical", docs=600))
        infos = {j: client.wait(j, timeout=300) for j in [*lows, critical]}
        assert all(i.state == JobState.SUCCEEDED for i in infos.values()), {j: i.error for j, i in infos.items()}
        metrics = _scrape_metrics_serve(env)
    finally:
        os.killpg(worker.pid, 9)
        worker.wait(10)
        flush_redis(SUBPROCESS_REDIS_DB)

    crit_parts = Store(pg_store).list_partitions(critical)
    low_starts = sorted(p.started_at for j in lows for p in Store(pg_store).list_partitions(j))
    crit_last = max(p.started_at for p in crit_parts)
    overtaken = sum(t > crit_last for t in low_starts)
    # Every partition of the critical job started while low partitions were still waiting.
    assert overtaken >= 5, (overtaken, len(low_starts))
    assert infos[critical].finished_at < max(infos[j].finished_at for j in lows)

    # The worker's pool process counted its tasks into PROMETHEUS_MULTIPROC_DIR; `metrics serve` merged them.
    n_process = sum(len(Store(pg_store).list_partitions(j, "process")) for j in [*lows, critical])
    assert metrics["auralith_tasks_total", (("outcome", "success"), ("task", "process_partition"))] == n_process
    assert (
        metrics["auralith_task_duration_seconds_count", (("outcome", "success"), ("task", "process_partition"))]
        == n_process
    )
    assert metrics["auralith_jobs", (("state", "succeeded"),)] >= len(lows) + 1


def _scrape_metrics_serve(env: dict) -> dict:
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "auralith"), "metrics", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


@pytest.fixture()
def rabbit() -> Connection:
    conn = Connection(RABBIT_URL, connect_timeout=3)
    try:
        conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"RabbitMQ is not reachable: {exc} (CI=true: integration tests must not skip)")
        pytest.skip(f"RabbitMQ is not reachable: {exc}")
    yield conn
    conn.release()


def test_rabbitmq_serves_auralith_priorities_in_order(rabbit):
    # A queue of its own, declared as Auralith declares its queues (x-max-priority), deleted afterwards.
    name = f"auralith-prio-test-{uuid.uuid4().hex[:8]}"
    [queue] = task_queues([name])
    assert queue.queue_arguments == {"x-max-priority": 9}
    bound = queue(rabbit.default_channel)
    bound.declare()
    try:
        sent = ["low", "normal", "critical", "high", "low", "critical", "normal"]
        producer = rabbit.Producer()
        for i, name_ in enumerate(sent):
            producer.publish(
                {"i": i, "priority": name_}, routing_key=name, priority=message_priority(name_, RABBIT_URL)
            )
        amqp_app = Celery("depths-amqp", broker=RABBIT_URL, set_as_current=False)
        deadline = time.monotonic() + 10
        while (found := queue_depths(amqp_app, [name, f"{name}-missing"])).queues[0].messages < len(sent):
            assert time.monotonic() < deadline, found  # publishes land asynchronously
            time.sleep(0.1)
        assert [(q.name, q.messages) for q in found.queues] == [(name, len(sent)), (f"{name}-missing", 0)]
        got = []
        while (message := bound.get(no_ack=True)) is not None:
            got.append(message.payload["priority"])
        assert got == ["critical", "critical", "high", "normal", "normal", "low", "low"]
    finally:
        bound.delete()


def test_every_task_of_a_job_is_delivered_with_its_priority(client, tokenizer_path, tmp_path):
    from celery import signals

    seen: list[tuple[str, object]] = []

    def record(task=None, **_):
        seen.append((task.name, (task.request.delivery_info or {}).get("priority")))

    signals.task_prerun.connect(record, weak=False)
    try:
        info = client.wait(
            client.submit(_job(tmp_path, tokenizer_path, "high", docs=300), priority="high"), timeout=120
        )
    finally:
        signals.task_prerun.disconnect(record)
    assert info.state == JobState.SUCCEEDED, info.error
    names = {name for name, _ in seen}
    assert {
        "auralith.run_job",
        "auralith.process_partition",
        "auralith.dedup_exact",
        "auralith.tokenize_partition",
        "auralith.finalize_job",
    } <= names
    assert {p for name, p in seen if name.startswith("auralith.")} == {3}
    # Chords are counted in the store (auralith.worker.chords), not polled by a chord_unlock task.
    assert "celery.chord_unlock" not in names
