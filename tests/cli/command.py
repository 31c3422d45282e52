"""The `auralith` command in a subprocess, as a user runs it (the embedded worker reconfigures the
process-wide Celery app, so `run` and `train` are not run inside pytest's process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.corpus import REPO

AURALITH = Path(sys.executable).parent / "auralith"


def auralith_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment; PYTHONPATH makes the command import this checkout, whichever one the
    environment's editable install points at."""
    return {
        "PATH": f"{AURALITH.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        **extra,
    }


def run_auralith(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """`auralith ARGS` in `cwd`. Server settings in the environment point nowhere, so a command that should
    stay embedded and does not fails."""
    env = {
        **auralith_env(cwd),
        "AURALITH_BROKER_URL": "redis://127.0.0.1:1/0",
        "AURALITH_STORE_URL": "postgresql://nobody@127.0.0.1:1/x",
        **(env or {}),
    }
    return subprocess.run([str(AURALITH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
