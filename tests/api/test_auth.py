"""Tokens and roles: hashed at rest, viewer reads, operator writes, nothing anonymous but /healthz."""

import pytest

from auralith.api.auth import TokenBook, hash_token, new_token
from auralith.errors import ConfigError
from tests.api.conftest import OPERATOR, VIEWER, bearer


def test_only_healthz_is_anonymous(http):
    assert http.get("/healthz").json() == {"ok": True}
    for path in ("/api/jobs", "/api/queues", "/api/workers", "/readyz", "/api/jobs/abcd"):
        answer = http.get(path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", path
    assert http.get("/api/jobs", headers=bearer("aur_wrong")).status_code == 401
    assert http.get("/", follow_redirects=False).headers["location"] == "/login?next=/"


def test_viewer_reads_operator_writes(http):
    assert http.get("/api/jobs", headers=bearer(VIEWER)).status_code == 200
    denied = http.post("/api/jobs", headers=bearer(VIEWER), json={"config": {}})
    assert denied.status_code == 403 and "operator" in denied.json()["detail"]
    assert http.post("/api/jobs/abcd/cancel", headers=bearer(VIEWER)).status_code == 403
    assert http.post("/api/jobs", headers=bearer(OPERATOR), json={"config": {}}).status_code == 422


def test_tokens_are_kept_as_hashes_and_entries_are_checked():
    token, entry = new_token("ci", "operator")
    assert token not in entry and entry == f"ci:operator:{hash_token(token)}"
    book = TokenBook.parse(entry)
    assert book.caller(token).role == "operator" and book.caller(token + "x") is None
    with pytest.raises(ConfigError, match="entry 1"):
        TokenBook.parse("ci:admin:sha256:" + "0" * 64)
    with pytest.raises(ConfigError, match="AURALITH_API_TOKENS is not set"):
        TokenBook.from_environment({})
    assert TokenBook.from_environment({"AURALITH_API_TOKENS": entry}).caller(token) is not None


def test_dashboard_login_sets_a_cookie_that_needs_the_csrf_header_to_write(http):
    failed = http.post("/login", data={"token": "aur_nope"}, follow_redirects=False)
    assert failed.headers["location"] == "/login?failed=1"
    ok = http.post("/login", data={"token": OPERATOR, "next": "/cluster"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/cluster"
    assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
    assert http.get("/api/jobs").status_code == 200  # the cookie alone reads
    forged = http.post("/api/jobs", json={"config": {}})
    assert forged.status_code == 403 and "X-Auralith-Request" in forged.json()["detail"]
    assert http.post("/api/jobs", json={"config": {}}, headers={"X-Auralith-Request": "1"}).status_code == 422
    assert "ops (operator)" in http.get("/").text


def test_a_token_never_reaches_the_log(http, caplog):
    http.get("/api/jobs", headers=bearer(OPERATOR))
    http.post("/login", data={"token": OPERATOR})
    assert OPERATOR not in caplog.text


def test_a_token_may_have_an_hourly_submit_limit(api_client, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from auralith.api.app import create_app

    token, entry = new_token("cron", "operator")
    book = TokenBook.parse(f"{entry}:2/h")
    assert book.submit_limits == {"cron": 2}
    caller = book.caller(token)
    assert [book.take_submit(caller, now=t) for t in (0, 1)] == [None, None]
    assert book.take_submit(caller, now=2) == 3598 and book.take_submit(caller, now=3601) is None
    with pytest.raises(ConfigError):
        TokenBook.parse(f"{entry}:2/day")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AURALITH_ALLOWED_ROOTS", str(tmp_path))
    http = TestClient(create_app(api_client, TokenBook.parse(f"{entry}:1/h")))
    config = {"config": {"sources": [{"path": "d/*.jsonl"}], "tokenization": {"tokenizer": "org/m"}}}
    assert http.post("/api/jobs", json=config, headers=bearer(token)).status_code == 201
    limited = http.post("/api/jobs", json=config, headers=bearer(token))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 3500
