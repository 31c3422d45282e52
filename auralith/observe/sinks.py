"""Event sinks that need no broker: the job's JSONL event log."""

from __future__ import annotations

import json
import os
from pathlib import Path


def jsonl_path(template: str, job_id: str, base_dir: str | None) -> Path:
    path = Path(template.replace("{job_id}", job_id)).expanduser()
    return path if path.is_absolute() or not base_dir else Path(base_dir) / path


def append_jsonl(path: Path, record: dict) -> None:
    """Append one line with a single write() on an O_APPEND file, so lines from many workers never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
