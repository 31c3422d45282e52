"""The JSONL event log and the webhook's backoff, on a SQLite store (the webhook's delivery: integration)."""

from __future__ import annotations

import json
import threading

from auralith.observe.sinks import append_jsonl, jsonl_path
from auralith.store import Store, migrate
from auralith.worker.app import make_app
from auralith.worker.events import backoff_delay, record_event


def test_every_event_goes_to_the_jsonl_log_masked(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    config = {"name": "j", "base_dir": str(tmp_path), "events": {"jsonl": "logs/{job_id}.jsonl"}}
    Store(url).create_job("job-1", config, "h", "j", "normal")
    app = make_app("redis://127.0.0.1:1/0", url)
    record_event(app, Store(url), "job-1", "planned 3 partitions", kind="started")
    record_event(app, Store(url), "job-1", "cannot reach redis://:s3cret@h/0", level="error", kind="failed")
    lines = [json.loads(line) for line in (tmp_path / "logs" / "job-1.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["level"], r["message"]) for r in lines] == [
        ("started", "info", "planned 3 partitions"),
        ("failed", "error", "cannot reach redis://:***@h/0"),
    ]
    assert all(r["job_id"] == "job-1" and r["job_name"] == "j" and r["time"] for r in lines)


def test_a_broken_sink_does_not_fail_the_event(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    (tmp_path / "blocker").write_text("a file where the log's folder should be")
    Store(url).create_job("job-2", {"events": {"jsonl": str(tmp_path / "blocker" / "x.jsonl")}}, "h", "j", "normal")
    record_event(make_app("redis://127.0.0.1:1/0", url), Store(url), "job-2", "still stored", kind="started")
    assert [e.message for e in Store(url).list_events("job-2")] == ["still stored"]


def test_concurrent_appends_keep_whole_lines(tmp_path):
    path = tmp_path / "e.jsonl"

    def write(n: int) -> None:
        for i in range(200):
            append_jsonl(path, {"writer": n, "i": i, "pad": "x" * 500})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 800 and {(r["writer"], r["i"]) for r in records} == {
        (n, i) for n in range(4) for i in range(200)
    }


def test_jsonl_path_and_backoff(tmp_path):
    assert jsonl_path("{job_id}/e.jsonl", "abc", str(tmp_path)) == tmp_path / "abc" / "e.jsonl"
    assert jsonl_path("/var/log/a.jsonl", "abc", str(tmp_path)).as_posix() == "/var/log/a.jsonl"
    assert [backoff_delay(n, 2.0, 30.0) for n in range(6)] == [2, 4, 8, 16, 30, 30]


def test_a_webhook_to_an_unlisted_or_loopback_host_is_not_sent(monkeypatch, caplog):
    from auralith.worker import events

    posted: list[str] = []
    monkeypatch.setattr(events, "post_json", lambda url, payload, timeout: posted.append(url) or 200)
    monkeypatch.delenv("AURALITH_WEBHOOK_HOSTS", raising=False)
    events.send_webhook("https://hooks.example.com/x", {"job_id": "j"})
    monkeypatch.setenv("AURALITH_WEBHOOK_HOSTS", "*")
    events.send_webhook("http://169.254.169.254/latest", {"job_id": "j"})
    assert posted == []
    assert "webhooks are off" in caplog.text and "list it by name" in caplog.text
    monkeypatch.setenv("AURALITH_WEBHOOK_HOSTS", "127.0.0.1")
    events.send_webhook("http://127.0.0.1:9/hook", {"job_id": "j"})
    assert posted == ["http://127.0.0.1:9/hook"]
