"""A German, Chinese and English mix through a real Celery worker: languages identified, kept, counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store.models import JobState
from tests.pipeline.test_languages import check_mixed_job, mixed_job

pytestmark = pytest.mark.integration


def test_mixed_languages_on_a_worker(client, tokenizer_path, tmp_path: Path):
    config, _ = mixed_job(tmp_path, tokenizer_path)
    info = client.wait(client.submit(config), timeout=180)
    assert info.state == JobState.SUCCEEDED, info.error
    manifest = load_manifest(Files(), Path(info.output) / "manifest.json")
    check_mixed_job(info.stats.to_dict(), manifest, tmp_path / "work")
