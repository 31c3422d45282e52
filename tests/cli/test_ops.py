"""`auralith status --json`, `queues`, `workers` and `logs` without servers (SQLite store, in-memory broker)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from auralith.cli.main import main
from auralith.store import Store, migrate
from auralith.store.models import JobState


def _store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    Store(url).create_job("job-1", {"name": "j", "password": "s3cret"}, "h", "j", "normal")
    Store(url).set_job_state("job-1", JobState.FAILED, error="cannot reach postgresql://u:s3cret@db:5432/x")
    Store(url).add_event("job-1", "failed: redis://:s3cret@redis:6379/0 refused", level="error")
    return url


def test_status_json_and_logs_show_no_credentials(tmp_path):
    url = _store(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["status", "job-1", "--json", "--store", url, "--broker", "memory://"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["error"] == "cannot reach postgresql://u:***@db:5432/x" and shown["stuck"] == []
    logs = runner.invoke(main, ["logs", "job-1", "--store", url])
    assert "redis://:***@redis:6379/0" in logs.output
    assert "s3cret" not in out.output + logs.output + json.dumps(Store(url).get_job("job-1").config)


def test_queues_json_on_the_memory_broker(tmp_path):
    out = CliRunner().invoke(main, ["queues", "--json", "--broker", "memory://", "--store", _store(tmp_path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"queues": [{"name": n, "messages": 0, "by_priority": {}}
                                                 for n in ("default", "process", "tokenize", "hpu")],
                                      "unacked": None}


def test_workers_without_broadcast_is_one_line_error(tmp_path):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    out = CliRunner().invoke(main, ["workers", "--broker", broker, "--store", _store(tmp_path)])
    assert out.exit_code == 1
    assert "no remote control" in out.output and "Traceback" not in out.output
