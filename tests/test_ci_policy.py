"""Integration tests skip when a service is missing locally, and fail under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.corpus import REPO

TARGET = "tests/integration/test_pipeline.py::test_run_job_delay_from_python"


def _pytest_with_dead_redis(ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["AURALITH_TEST_REDIS"] = "redis://127.0.0.1:1"  # nothing listens on port 1
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TARGET, "-rs"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci, code, word", [(None, 0, "skipped"), ("true", 1, "CI=true")])
def test_missing_service_skips_locally_and_fails_in_ci(ci, code, word):
    out = _pytest_with_dead_redis(ci)
    assert out.returncode == code, out.stdout + out.stderr
    assert word in out.stdout
    assert "Redis is not reachable" in out.stdout
