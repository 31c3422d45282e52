"""`auralith api-token`, `auralith serve` (refuses to serve without tokens; serves with them) and `logs --follow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner

from auralith.api.auth import TokenBook, hash_token
from auralith.cli.main import main
from tests.corpus import REPO


def test_api_token_prints_the_token_once_and_its_hash_entry():
    out = CliRunner().invoke(main, ["api-token", "ci", "--role", "operator"])
    assert out.exit_code == 0, out.output
    token = out.output.split("token:", 1)[1].split()[0]
    entry = out.output.split("entry:", 1)[1].split()[0]
    assert token.startswith("aur_") and token not in entry
    assert TokenBook.parse(entry).caller(token).role == "operator"
    limited = CliRunner().invoke(main, ["api-token", "cron", "--role", "operator", "--submits-per-hour", "20"])
    assert TokenBook.parse(limited.output.split("entry:", 1)[1].split()[0]).submit_limits == {"cron": 20}


def test_serve_without_tokens_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv("AURALITH_API_TOKENS", raising=False)
    monkeypatch.delenv("AURALITH_SECRETS_FILE", raising=False)
    out = CliRunner().invoke(main, ["serve"])
    assert out.exit_code == 1 and "AURALITH_API_TOKENS is not set" in out.output and "api-token" in out.output


def test_serve_answers_and_says_where_jobs_may_go(tmp_path, embedded_job):
    root, job_id = embedded_job
    token = "aur_" + "t" * 43
    env = {k: v for k, v in os.environ.items() if k != "AURALITH_ALLOWED_ROOTS"}
    env["AURALITH_API_TOKENS"] = f"t:viewer:{hash_token(token)}"
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auralith.cli.main",
            "serve",
            "--port",
            str(port),
            "--state-dir",
            str(root / ".auralith"),
        ],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/jobs", headers={"Authorization": f"Bearer {token}"}
                )
                jobs = json.load(urllib.request.urlopen(request, timeout=5))["jobs"]
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.3)
        assert [j["id"] for j in jobs] == [job_id]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert f"AURALITH_ALLOWED_ROOTS is not set: jobs may read and write only under {tmp_path.resolve()}" in output
    assert token not in output


def test_logs_follow_prints_events_until_the_job_ends(embedded_job):
    root, job_id = embedded_job
    out = CliRunner().invoke(main, ["logs", job_id, "--follow", "--state-dir", str(root / ".auralith")])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "submitted" in lines[0] and lines[-1] == f"job {job_id} succeeded"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
