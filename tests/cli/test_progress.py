"""Progress and summary views over job figures (no store needed: JobInfo is built directly)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from rich.console import Console

from auralith.cli.progress import issue_lines, removals_table, stages_table, summary_table
from auralith.client import JobInfo
from auralith.pipeline.stats import JobStats, StageCounts


def _stats() -> JobStats:
    st = JobStats(
        stages={"process": StageCounts(total=2, committed=2)},
        records=10,
        documents_out=7,
        tokens=99,
        shards=1,
        input_bytes=2**20,
        removed={"exact_duplicate": 2, "input_error.invalid_json": 1},
    )
    st.issues = [
        {"file": "/d/a.jsonl", "line": 4, "field": None, "reason": "invalid_json", "message": "bad"},
        {"file": "/d/b.jsonl", "line": None, "field": None, "reason": "empty_file", "message": "empty"},
        {"file": "/d/a.jsonl", "line": 9, "field": "text", "reason": "missing_field", "message": "no"},
    ]
    st.issue_count = 5
    return st


def _render(renderable) -> str:
    console = Console(width=200, record=True)
    console.print(renderable)
    return console.export_text()


def test_issue_lines_read_like_compiler_errors():
    lines = issue_lines(_stats(), limit=3)
    assert lines[0] == "/d/a.jsonl:4: invalid_json: bad"
    assert lines[1] == "/d/b.jsonl: empty_file: empty"
    assert lines[2] == "/d/a.jsonl:9: missing_field (field 'text'): no"
    assert lines[3].startswith("... and 2 more")


def test_summary_table_has_removals_tokens_time_and_output():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    info = JobInfo(
        "j1", "demo", "succeeded", "normal", start, start, start + timedelta(seconds=3), None, "/out/demo", {}, _stats()
    )
    text = _render(summary_table(info))
    for expected in (
        "documents in",
        "10",
        "removed: exact_duplicate",
        "removed: input_error.invalid_json",
        "documents kept",
        "7",
        "tokens",
        "99",
        "3.0 s",
        "/out/demo",
        "succeeded",
    ):
        assert expected in text


def test_stages_table_counts_partitions():
    text = _render(stages_table(_stats()))
    assert "process" in text and "committed" in text


def test_removals_table_has_count_and_share_of_input_per_reason():
    text = _render(removals_table(_stats()))
    lines = [line for line in text.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines] == ["exact_duplicate", "input_error.invalid_json", "total"]
    assert "20.00 %" in lines[0] and "10.00 %" in lines[1] and "30.00 %" in lines[2]
    assert "nothing removed" in _render(removals_table(JobStats(records=3)))


def test_status_summary_can_leave_the_reasons_to_the_removals_table():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    info = JobInfo("j1", "demo", "running", "normal", start, start, None, None, None, {}, _stats())
    text = _render(summary_table(info, removal_rows=False))
    assert "documents removed" in text and "exact_duplicate" not in text


def test_summary_table_shows_dropped_lines_and_pii_and_keeps_the_output_path_whole():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    st = _stats()
    st.removed["gopher_repetition.dup_line_char_frac"] = 3
    st.lines_removed = {"c4.no_terminal_punct": 12}
    st.pii = {"email": 4}
    out = "/tmp/a/rather/long/output/folder/that/must/not/be/cut/by/the/table"
    info = JobInfo("j1", "demo", "succeeded", "normal", start, start, start + timedelta(seconds=3), None, out, {}, st)
    console = Console(width=100, record=True)
    console.print(summary_table(info))
    text = console.export_text()
    assert "lines dropped:" in text and "no_terminal_punct" in text and "PII found: email" in text  # labels fold
    assert out in text


def test_watch_prints_a_line_when_heals_happen(tmp_path):
    from auralith.cli.progress import _print_new_heals, watch_job
    from auralith.client import Client
    from auralith.store.models import JobState

    client = Client("memory://", f"sqlite:///{tmp_path / 's.db'}")
    store = client.store
    store.upgrade()
    store.create_job("job-1", {}, "h", "j", "normal")
    store.add_heal("job-1", "process", 5, "worker_dead", "worker p@host silent for 34 s (redelivery 1 of at most 3)")
    console = Console(width=200, record=True)
    assert _print_new_heals(console, client.heals("job-1"), 0) == 1
    assert _print_new_heals(console, client.heals("job-1"), 1) == 1  # nothing new: nothing printed
    store.add_heal("job-1", "process", 7, "message_lost", "its message is not on the broker")
    assert _print_new_heals(console, client.heals("job-1"), 1) == 2
    assert console.export_text().splitlines() == [
        "healed: 1 (worker_dead 1)",
        "  process 5: worker_dead: worker p@host silent for 34 s (redelivery 1 of at most 3)",
        "healed: 2 (message_lost 1, worker_dead 1)",
        "  process 7: message_lost: its message is not on the broker",
    ]

    # `watch` of a job that ended after two heals shows them above its bars.
    store.set_job_state("job-1", JobState.SUCCEEDED)
    console = Console(width=200, record=True)
    assert watch_job(client, "job-1", console).state == JobState.SUCCEEDED
    text = console.export_text()
    assert "healed: 2 (message_lost 1, worker_dead 1)" in text and "process 7: message_lost" in text


def test_a_narrow_terminal_keeps_every_label_and_folds_the_values():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = "/tmp/a/rather/long/output/folder/that/must/not/be/cut/by/the/table"
    info = JobInfo(
        "j1", "demo", "succeeded", "normal", start, start, start + timedelta(seconds=3), None, out, {}, _stats()
    )
    table = summary_table(info)
    for width in (40, 60):
        console = Console(width=width, record=True)
        console.print(table)
        text = console.export_text()
        rows = [line.split("│")[1:3] for line in text.splitlines() if line.startswith("│")]
        figures = [(label, value) for label, value in rows if re.fullmatch(r"[\d.,]+( s)?", value.strip())]
        assert len(figures) == 8 and all(label.strip() for label, _ in figures), rows  # no figure without its label
        labels = [label.strip() for label, _ in rows]
        assert {"documents in", "documents kept", "tokens", "shards", "output"} <= set(labels), labels
        assert "".join(value.strip() for label, value in rows[-4:]).endswith(out[-20:])
        assert max(len(line) for line in text.splitlines()) <= width
