"""The report folder: profile.json, PNG plots and report.html that references them."""

from __future__ import annotations

import json
import re

from auralith.report.merge import build_profile
from auralith.report.write import write_report
from tests.report.rows import dedup_row, job, process_row, tokenize_row

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def full_profile() -> dict:
    rows = [
        process_row(
            0, {0: [40, 80, 300, 2000], 1: [5000]}, removed={0: {"length.too_short": 1}}, pii={"email": 4, "ipv4": 1}
        ),
        process_row(1, {0: [60, 90]}, pii={"email": 1}),
        tokenize_row(
            0, [10, 20, 500], languages={"en": {"documents": 2, "tokens": 30}, "de": {"documents": 1, "tokens": 500}}
        ),
        tokenize_row(1, [15, 30], languages={"en": {"documents": 2, "tokens": 45}}),
        dedup_row("near_dedup", cluster_sizes={"2": 6, "3": 2, "40": 1}),
    ]
    return build_profile(job(), rows, TRAINING)


# What train_repo.metrics_history returns for a short run: loss every step, validation every 10.
TRAINING = [
    {
        "step": s,
        "loss": 8.0 - s / 10,
        "val_loss": 8.1 - s / 10 if s % 10 == 0 else None,
        "lr": 1e-3,
        "tokens_per_s": 5000.0,
        "tokens_seen": 512 * s,
        "elapsed_s": s / 10,
    }
    for s in range(1, 31)
]


def test_report_files_are_written_and_the_page_shows_every_plot(tmp_path):
    files = write_report(full_profile(), tmp_path / "rep")
    names = {p.name for p in files.plots.values()}
    assert names == {
        "sources.png",
        "length_histogram.png",
        "removals.png",
        "tokens_histogram.png",
        "cluster_sizes.png",
        "pii.png",
        "languages.png",
        "loss_curve.png",
    }
    for path in files.plots.values():
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5_000
    html = files.html.read_text()
    assert set(re.findall(r'<img src="([^"]+)"', html)) == names
    for expected in (
        "Dataset report: t",
        "web/*.jsonl",
        "length.too_short",
        "email",
        "duplicates removed",
        "Tokens per document",
        "last val loss",
    ):
        assert expected in html
    assert "not run" not in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere
    assert not list(tmp_path.glob("rep/.*.tmp"))  # every file was renamed into place


def test_profile_json_schema(tmp_path):
    files = write_report(full_profile(), tmp_path)
    prof = json.loads(files.profile_json.read_text())
    assert prof["format"] == "auralith-profile/1"
    assert set(prof) >= {
        "job",
        "partitions",
        "totals",
        "sources",
        "removals",
        "removals_by_source",
        "length_before",
        "length_after_filters",
        "length_output",
        "tokens_per_document",
        "pii",
        "dedup_clusters",
        "plots",
    }
    assert set(prof["job"]) == {"id", "name", "state", "created_at", "started_at", "finished_at", "output"}
    # Most documents first, summed over partitions.
    assert prof["languages"] == {"en": {"documents": 4, "tokens": 75}, "de": {"documents": 1, "tokens": 500}}
    for key in ("length_before", "length_after_filters", "length_output", "tokens_per_document"):
        series = prof[key]
        assert set(series) == {"count", "sum", "mean", "min", "max", "quantiles", "quantile_rank_error", "histogram"}
        assert list(series["quantiles"]) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
        assert sum(series["histogram"]["counts"]) == series["count"]
        assert len(series["histogram"]["edges"]) == len(series["histogram"]["counts"]) + 1
    assert set(prof["sources"][0]) == {
        "source",
        "path",
        "records",
        "documents_in",
        "chars_in",
        "mean_chars_in",
        "min_chars_in",
        "max_chars_in",
        "documents_kept",
        "chars_kept",
        "mean_chars_kept",
        "removed",
        "removed_pct",
    }
    assert prof["plots"]["Document length"] == "length_histogram.png"


def test_sections_without_data_say_not_run(tmp_path):
    files = write_report(build_profile(job(), [process_row(0, {0: [40, 50]})]), tmp_path)
    html = files.html.read_text()
    for section in (
        "Near-duplicate detection: not run",
        "PII redaction: not run",
        "Tokenization: not run",
        "Training: not run",
    ):
        assert section in html
    assert "Nothing was removed." in html
    assert {p.name for p in files.plots.values()} == {"sources.png", "length_histogram.png"}
    assert not (tmp_path / "pii.png").exists()


def test_text_from_the_job_is_escaped(tmp_path):
    prof = build_profile(job(sources=[{"path": ["/d/<script>.jsonl"]}]), [process_row(0, {0: [40]})])
    prof["job"]["name"] = "<b>x</b>"
    html = write_report(prof, tmp_path).html.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>x</b>" not in html


def test_training_section_summarises_the_run_and_keeps_the_curve():
    prof = full_profile()
    assert prof["training"]["steps"] == 30 and prof["training"]["last_val_loss"] == 8.1 - 3.0
    assert [m["step"] for m in prof["training"]["history"]] == list(range(1, 31))


def test_cluster_sizes_are_ticked_in_whole_documents(monkeypatch, tmp_path):
    from auralith.report import plots

    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, out_dir, name: drawn.setdefault(name, fig) and name)
    clusters = {"sizes": {"2": 6, "3": 2, "4": 1}, "clusters": 9, "documents_in_clusters": 22, "duplicates_removed": 13}
    plots.cluster_sizes_bars({"dedup_clusters": clusters}, tmp_path)
    ax = drawn["cluster_sizes.png"].axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
