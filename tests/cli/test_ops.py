"""`auralith queues`, `workers` and `metrics serve` without servers (SQLite store, in-memory broker)."""

from __future__ import annotations

import json
import urllib.request
from types import SimpleNamespace

from click.testing import CliRunner

from auralith.cli.main import main
from auralith.store import Store


def _store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).upgrade()
    return url


def test_queues_json_on_the_memory_broker(tmp_path):
    out = CliRunner().invoke(main, ["queues", "--json", "--broker", "memory://", "--store", _store(tmp_path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "queues": [{"name": n, "messages": 0, "by_priority": {}} for n in ("default", "process", "tokenize", "hpu")],
        "unacked": None,
    }


def test_workers_without_broadcast_is_one_line_error(tmp_path):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    out = CliRunner().invoke(main, ["workers", "--broker", broker, "--store", _store(tmp_path)])
    assert out.exit_code == 1
    assert "no remote control" in out.output and "Traceback" not in out.output


def test_metrics_serve_answers_until_ctrl_c(tmp_path, monkeypatch):
    from auralith.cli import ops
    from auralith.observe import metrics

    servers, scraped = [], []

    def serve(*args):
        servers.append(real_serve(*args)[0])
        return servers[-1], None

    def scrape_then_ctrl_c(seconds: float) -> None:
        url = f"http://127.0.0.1:{servers[0].server_port}/metrics"
        scraped.append(urllib.request.urlopen(url, timeout=10).read().decode())
        raise KeyboardInterrupt

    real_serve = metrics.serve
    monkeypatch.setattr(metrics, "serve", serve)
    monkeypatch.setattr(ops, "time", SimpleNamespace(sleep=scrape_then_ctrl_c))
    out = CliRunner().invoke(main, ["metrics", "serve", "--port", "0", "--no-queues", "--store", _store(tmp_path)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"serving http://127.0.0.1:{servers[0].server_port}/metrics")
    assert "# TYPE auralith_jobs gauge" in scraped[0] and "auralith_scrape_duration_seconds" in scraped[0]
