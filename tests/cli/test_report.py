"""`auralith report` and `auralith dedup-report` on a job run with the embedded store."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from auralith.cli.main import main


def test_report_of_an_embedded_run(embedded_job, tmp_path):
    root, job_id = embedded_job
    out = CliRunner().invoke(
        main, ["report", job_id[:8], "--state-dir", str(root / ".auralith"), "--out", str(tmp_path / "rep")]
    )
    assert out.exit_code == 0, out.output
    assert f"job {job_id} (succeeded): 605 documents in, 2 removed, 603 out" in out.output
    assert "report.html (5 plots)" in out.output  # with documents and tokens per language

    prof = json.loads((tmp_path / "rep" / "profile.json").read_text())
    web, notes = prof["sources"]
    assert (web["path"], web["documents_in"], web["documents_kept"]) == ("data/*.jsonl", 602, 601)
    assert (notes["path"], notes["documents_in"], notes["removed"]) == ("notes/*.txt", 3, 0)
    assert prof["partitions"]["process"]["profiled"] == prof["partitions"]["process"]["total"] > 1
    assert prof["removals"] == [
        {"reason": "exact_duplicate", "documents": 1, "percent_of_input": 100 / 605},
        {"reason": "length.too_short", "documents": 1, "percent_of_input": 100 / 605},
    ]
    assert prof["length_before"]["count"] == 605 and prof["length_output"]["count"] == 603
    assert prof["tokens_per_document"]["sum"] == prof["totals"]["tokens"]
    assert prof["pii"] == {}  # PII redaction is on by default: it ran and found none
    assert prof["dedup_clusters"] is None  # near dedup is not in this job
    html = (tmp_path / "rep" / "report.html").read_text()
    for png in re.findall(r'<img src="([^"]+)"', html):
        assert (tmp_path / "rep" / png).exists()


def test_report_json_output(embedded_job, tmp_path):
    root, job_id = embedded_job
    store = f"sqlite:///{root / '.auralith' / 'auralith.db'}"
    out = CliRunner().invoke(main, ["report", job_id, "--store", store, "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["html"] == str(tmp_path / "report.html")
    assert data["plots"]["Tokens per document"] == str(tmp_path / "tokens_histogram.png")
    assert data["profile"]["totals"]["documents_out"] == 603


def _store_with_old_job(tmp_path: Path) -> tuple[str, str]:
    from auralith.store import Store, migrate

    store = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(store)
    Store(store).create_job("old-job-1", {"sources": []}, "h", "old", "normal")
    Store(store).create_partitions("old-job-1", {"process": [({}, 10)]})
    part = Store(store).list_partitions("old-job-1")[0]
    Store(store).commit_partition(part.id, {"records": 3, "kept": 3, "removed": {}}, None)  # no "profile"
    return store, "old-job-1"


def test_user_errors_are_one_line(tmp_path):
    store, old = _store_with_old_job(tmp_path)
    runner = CliRunner()
    cases = [
        (
            ["report", old, "--store", store, "--out", str(tmp_path / "r")],
            "has no profile to report: its partitions carry none (it ran before",
        ),
        (["report", "nope-nope", "--store", store, "--out", str(tmp_path / "r")], "no job 'nope-nope'"),
        (
            ["report", old, "--state-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "r")],
            "no embedded store in",
        ),
        (
            ["report", old, "--store", store, "--state-dir", str(tmp_path), "--out", str(tmp_path / "r")],
            "either --store or --state-dir",
        ),
    ]
    for args, message in cases:
        out = runner.invoke(main, args)
        assert out.exit_code == 1, out.output
        text = " ".join(out.output.split())  # rich wraps long lines at the terminal's width
        assert message in text and "Traceback" not in text
        assert text.count("error:") == 1 and text.startswith("error:"), text
    assert not (tmp_path / "r").exists()


def test_dedup_report_of_a_job_without_near_dedup_is_one_line(embedded_job):
    # A job with near dedup: tests/integration/test_near_dedup_job.py.
    root, job_id = embedded_job
    store = f"sqlite:///{root / '.auralith' / 'auralith.db'}"
    out = CliRunner().invoke(main, ["dedup-report", job_id[:8], "--store", store])
    assert out.exit_code == 1
    assert " ".join(out.output.split()) == (
        f"error: job {job_id} ran without near dedup (preprocessing.near_dedup.enabled is false)"
    )
