"""`/api/jobs`: submit (YAML, JSON, config errors as the CLI prints them, roots, webhooks), list, read, cancel,
resume, the event stream, the report; on a store no worker consumes, plus a finished embedded job."""

from __future__ import annotations

import json
import shutil

from auralith.client import Client
from auralith.worker.embedded import embedded_urls
from tests.api.conftest import OPERATOR, VIEWER, bearer
from tests.corpus import REPO

YAML = {"Content-Type": "application/yaml"}


def _demo(tmp_path) -> str:
    """The demo job's files in tmp_path (the app's folder), and its YAML."""
    shutil.copytree(REPO / "examples" / "data", tmp_path / "data")
    shutil.copy(REPO / "examples" / "tokenizer.json", tmp_path / "tokenizer.json")
    return (REPO / "examples" / "demo.yaml").read_text()


def test_submit_yaml_then_read_list_and_cancel(http, tmp_path):
    created = http.post("/api/jobs?priority=high", content=_demo(tmp_path), headers={**bearer(OPERATOR), **YAML})
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    assert created.json() == {"id": job_id, "name": "demo", "priority": "high"}
    detail = http.get(f"/api/jobs/{job_id[:6]}", headers=bearer(VIEWER)).json()  # a prefix, as in the CLI
    assert detail["id"] == job_id and detail["state"] == "pending" and detail["priority"] == "high"
    assert detail["config"]["output"]["path"] == str(tmp_path / "out" / "demo") and "base_dir" not in detail["config"]
    assert {"stages", "figures", "training", "heals", "stuck", "progress"} <= set(detail)
    listed = http.get("/api/jobs?state=pending&name=dem&limit=1", headers=bearer(VIEWER)).json()
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    assert http.get("/api/jobs?offset=1", headers=bearer(VIEWER)).json()["jobs"] == []
    cancelled = http.post(f"/api/jobs/{job_id}/cancel", headers=bearer(OPERATOR))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = http.post(f"/api/jobs/{job_id}/cancel", headers=bearer(OPERATOR))
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    assert http.get("/api/jobs/ffffffff", headers=bearer(VIEWER)).status_code == 404


def test_config_errors_answer_422_with_the_cli_lines(http, tmp_path):
    bad = "name: x\nsources: [{path: data/*.jsonl}]\ntokenization: {tokenizer: t.json}\npriority: urgent\nfoo: 1\n"
    answer = http.post("/api/jobs", content=bad, headers={**bearer(OPERATOR), **YAML})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        "priority: Input should be 'low', 'normal', 'high' or 'critical'",
        "foo: unknown key",
    ]
    broken = http.post("/api/jobs", content="name: [x\n", headers={**bearer(OPERATOR), **YAML})
    assert broken.status_code == 422 and broken.json()["detail"][0].startswith("line 2, column 1: invalid YAML")
    as_json = http.post("/api/jobs", json={"config": {"name": "x"}, "priority": "urgent"}, headers=bearer(OPERATOR))
    assert as_json.status_code == 422 and as_json.json()["detail"][0].startswith("priority:")


def test_paths_outside_the_servers_roots_and_unlisted_webhooks_are_refused(http, tmp_path, monkeypatch):
    config = {
        "sources": [{"path": "../../etc/*"}],
        "tokenization": {"tokenizer": "org/model"},
        "output": {"path": "/etc/out"},
        "base_dir": "/",  # the submitter's folder is never a root
        "events": {"webhook": {"url": "http://169.254.169.254/latest"}},
    }
    monkeypatch.setenv("AURALITH_WEBHOOK_HOSTS", "*")
    answer = http.post("/api/jobs", json={"config": config}, headers=bearer(OPERATOR))
    assert answer.status_code == 422
    keys = [line.split(":")[0] for line in answer.json()["detail"]]
    assert keys == ["output.path", "sources[0].path", "events.webhook.url"], answer.json()


def test_a_config_print_masks_credentials_in_urls(http, tmp_path):
    config = _demo(tmp_path) + "storage: {s3: {endpoint_url: 'http://key:s3cr3t@minio:9000'}}\n"
    job_id = http.post("/api/jobs", content=config, headers={**bearer(OPERATOR), **YAML}).json()["id"]
    shown = http.get(f"/api/jobs/{job_id}", headers=bearer(VIEWER)).text
    assert "s3cr3t" not in shown and "http://key:***@minio:9000" in shown


def test_event_stream_of_a_finished_job_replays_and_ends(http, tmp_path):
    job_id = http.post("/api/jobs", content=_demo(tmp_path), headers={**bearer(OPERATOR), **YAML}).json()["id"]
    http.post(f"/api/jobs/{job_id}/cancel", headers=bearer(OPERATOR))
    kinds = []
    with http.stream("GET", f"/api/jobs/{job_id}/events", headers=bearer(VIEWER)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
    assert kinds == ["event", "event", "snapshot", "end"]


def test_a_finished_job_report_events_and_resume(embedded_job, monkeypatch):
    from fastapi.testclient import TestClient

    from auralith.api.app import create_app
    from tests.api.conftest import TOKENS

    root, job_id = embedded_job
    http = TestClient(create_app(Client(*embedded_urls(root / ".auralith")), TOKENS, poll=0.05))
    detail = http.get(f"/api/jobs/{job_id}", headers=bearer(VIEWER)).json()
    assert detail["state"] == "succeeded" and detail["progress"] == 1.0
    assert all(s["progress"] == 1.0 and s["eta_s"] == 0.0 for s in detail["stages"])
    assert detail["figures"]["removed"]["exact_duplicate"] == 1
    profile = http.get(f"/api/jobs/{job_id}/report", headers=bearer(VIEWER)).json()
    assert profile["job"]["id"] == job_id and profile["totals"]["documents_out"] == detail["figures"]["documents_out"]
    page = http.get(f"/api/jobs/{job_id}/report?format=html", headers=bearer(VIEWER))
    assert page.headers["content-type"].startswith("text/html") and "data:image/png;base64," in page.text
    clusters = http.get(f"/api/jobs/{job_id}/clusters", headers=bearer(VIEWER))
    assert clusters.status_code == 409 and "ran without near dedup" in clusters.json()["detail"]
    refused = http.post(f"/api/jobs/{job_id}/resume", headers=bearer(OPERATOR))
    assert refused.status_code == 409 and "already succeeded" in refused.json()["detail"]
    events = []
    with http.stream("GET", f"/api/jobs/{job_id}/events", headers=bearer(VIEWER)) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events[-1]["state"] == "succeeded" and any("submitted" in e.get("message", "") for e in events)
    http.cookies.set("auralith_token", VIEWER)
    assert "Stages" in http.get(f"/jobs/{job_id}").text
