"""`auralith report` on a job done by a real worker (Redis broker, PostgreSQL store)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store.models import JobState
from tests.corpus import EXAMPLES

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration


def test_report_of_the_demo_job(client, tmp_path):
    for name in ("data", "tokenizer.json", "demo.yaml"):
        src = EXAMPLES / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    info = client.wait(client.submit(tmp_path / "demo.yaml"), timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error

    runner = CliRunner()
    out = runner.invoke(main, ["report", info.id, "--out", str(tmp_path / "report")])
    assert out.exit_code == 0, out.output
    prof = json.loads((tmp_path / "report" / "profile.json").read_text())
    st, manifest = info.stats, load_manifest(files, Path(info.output) / "manifest.json")

    # The merged profile agrees with the job's own figures and its manifest.
    assert prof["partitions"]["process"]["profiled"] == st.stages["process"].total > 1
    assert sum(s["records"] for s in prof["sources"]) == st.records == manifest["documents_in"]
    assert sum(s["documents_kept"] for s in prof["sources"]) == st.kept_after_filters
    assert [s["path"] for s in prof["sources"]] == ["data/*.jsonl*", "data/notes/*.txt"]
    assert prof["length_output"]["count"] == prof["tokens_per_document"]["count"] == manifest["documents"]
    assert prof["tokens_per_document"]["sum"] == manifest["tokens"]
    assert {r["reason"]: r["documents"] for r in prof["removals"]} == manifest["removed"]
    before = prof["length_before"]
    assert before["min"] <= before["quantiles"]["p01"] <= before["quantiles"]["p50"] <= before["quantiles"]["p99"]
    assert before["quantiles"]["p99"] <= before["max"]
    html = (tmp_path / "report" / "report.html").read_text()
    pngs = re.findall(r'<img src="([^"]+)"', html)
    assert {"length_histogram.png", "tokens_histogram.png", "removals.png", "sources.png"} <= set(pngs)
    assert all((tmp_path / "report" / p).stat().st_size > 0 for p in pngs)

    status = runner.invoke(main, ["status", info.id], terminal_width=160)
    assert status.exit_code == 0, status.output
    assert "removals by reason" in status.output and "length.too_short" in status.output
