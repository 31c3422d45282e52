"""`auralith queues`, `workers` and `metrics serve` without servers (SQLite store, in-memory broker)."""

from __future__ import annotations

import json
import urllib.request
from types import SimpleNamespace

from click.testing import CliRunner

from auralith.cli.main import main
from auralith.store import Store
from tests.heartbeats import silence


def _store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).upgrade()
    return url


def test_queues_json_on_the_memory_broker(tmp_path):
    out = CliRunner().invoke(main, ["queues", "--json", "--broker", "memory://", "--store", _store(tmp_path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "queues": [
            {"name": n, "messages": 0, "by_priority": {}} for n in ("default", "process", "dedup", "tokenize", "hpu")
        ],
        "unacked": None,
    }


def test_workers_from_heartbeats_without_broadcast(tmp_path):
    # The embedded SQLite broker cannot broadcast: the heartbeats in the store still say who is alive.
    url = _store(tmp_path)
    Store(url).beat("process@a", 4242, ["default", "process"], ["t1"])
    Store(url).beat("tokenize@gone", 4343, ["tokenize"], ["t2", "t3"])
    silence(Store(url), "tokenize@gone", 95)
    services = ["--broker", f"sqla+sqlite:///{tmp_path / 'broker.db'}", "--store", url]
    out = CliRunner().invoke(main, ["workers", *services], terminal_width=200)
    assert out.exit_code == 0, out.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.output.splitlines() if "@" in line]
    # Only what heartbeats tell: no active tasks, pool size or RSS columns without a ping reply.
    assert "┃ active" not in out.output and "RSS" not in out.output
    assert [r[:4] + r[5:] for r in rows] == [
        ["process@a", "alive", "default,process", "1", "4242"],
        ["tokenize@gone", "dead", "tokenize", "2", "4343"],
    ]
    assert rows[0][4] in ("0 s ago", "1 s ago") and rows[1][4] in ("95 s ago", "96 s ago", "97 s ago")
    assert "no remote control" in out.output and "no heartbeat for over 30 s" in out.output
    found = json.loads(CliRunner().invoke(main, ["workers", "--json", *services]).output)
    assert [(w["hostname"], w["state"], w["held"], w["answered"]) for w in found] == [
        ("process@a", "alive", 1, None),
        ("tokenize@gone", "dead", 2, None),
    ]


def test_workers_none_at_all(tmp_path):
    services = ["--broker", f"sqla+sqlite:///{tmp_path / 'broker.db'}", "--store", _store(tmp_path)]
    out = CliRunner().invoke(main, ["workers", *services])
    assert out.exit_code == 0 and out.output.startswith("no worker has a heartbeat in the store"), out.output


def test_metrics_serve_answers_until_ctrl_c(tmp_path, monkeypatch):
    from auralith.cli import ops
    from auralith.observe import metrics

    servers, scraped = [], []

    def serve(*args, **kwargs):
        servers.append(real_serve(*args, **kwargs)[0])
        return servers[-1], None

    def scrape_then_ctrl_c(seconds: float) -> None:
        url = f"http://127.0.0.1:{servers[0].server_port}/metrics"
        scraped.append(urllib.request.urlopen(url, timeout=10).read().decode())
        raise KeyboardInterrupt

    real_serve = metrics.serve
    monkeypatch.setattr(metrics, "serve", serve)
    monkeypatch.setattr(ops, "time", SimpleNamespace(sleep=scrape_then_ctrl_c))
    url = _store(tmp_path)
    Store(url).create_job("j", {}, "h", "j", "normal")
    Store(url).add_heal("j", "process", 3, "message_lost", "its message is not on the broker")
    Store(url).beat("process@a", 1, ["process"], [])
    out = CliRunner().invoke(main, ["metrics", "serve", "--port", "0", "--no-queues", "--store", url])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"serving http://127.0.0.1:{servers[0].server_port}/metrics")
    assert "# TYPE auralith_jobs gauge" in scraped[0] and "auralith_scrape_duration_seconds" in scraped[0]
    assert 'auralith_heals_total{reason="message_lost"} 1.0' in scraped[0]
    assert 'auralith_workers{state="alive"} 1.0' in scraped[0] and 'auralith_workers{state="silent"} 0.0' in scraped[0]
