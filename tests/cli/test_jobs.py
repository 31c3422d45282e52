"""`status`, `logs`, `jobs`, `cancel`, `resume` on a SQLite store (and a SQLite broker where one is needed)."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from auralith.cli.main import main
from auralith.store import Store
from auralith.store.models import JobState
from tests.heartbeats import silence, started_on


def _store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).upgrade()
    Store(url).create_job("job-1", {"name": "j", "password": "s3cret"}, "h", "j", "normal")
    Store(url).set_job_state("job-1", JobState.FAILED, error="cannot reach postgresql://u:s3cret@db:5432/x")
    Store(url).add_event("job-1", "failed: redis://:s3cret@redis:6379/0 refused", level="error")
    return url


def test_status_json_and_logs_show_no_credentials(tmp_path):
    url = _store(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["status", "job-1", "--json", "--store", url, "--broker", "memory://"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["error"] == "cannot reach postgresql://u:***@db:5432/x" and shown["stuck"] == []
    assert shown["heals"] == {"total": 0, "by_reason": {}, "last": []}
    logs = runner.invoke(main, ["logs", "job-1", "--store", url])
    assert "redis://:***@redis:6379/0" in logs.output
    assert "s3cret" not in out.output + logs.output + json.dumps(Store(url).get_job("job-1").config)


def test_status_shows_heals_and_units_on_silent_workers(tmp_path):
    url = _store(tmp_path)
    store = Store(url)
    store.set_job_state("job-1", JobState.RUNNING)
    store.create_partitions("job-1", {"process": [({}, 1)] * 3})
    store.beat("process@alive", 1, ["process"], ["task-process-0"])
    store.beat("process@gone", 2, ["process"], ["task-process-1"])
    started_on(store, "job-1", "process", 0, "process@alive")
    started_on(store, "job-1", "process", 1, "process@gone")
    silence(store, "process@gone", 40)
    store.add_heal(
        "job-1", "process", 2, "worker_dead", "worker process@old silent for 34 s (redelivery 1 of at most 3)"
    )
    store.add_heal(
        "job-1", "process", 2, "message_lost", "its message is not on the broker (restarted without persistence?)"
    )
    store.add_heal("job-1", "dedup", None, "stalled", "stage dedup sent: stage process finished 20 s ago")
    runner = CliRunner()
    services = ["--store", url, "--broker", f"sqla+sqlite:///{tmp_path / 'broker.db'}"]

    shown = json.loads(runner.invoke(main, ["status", "job-1", "--json", *services]).output)
    assert shown["heals"]["total"] == 3
    assert shown["heals"]["by_reason"] == {"message_lost": 1, "stalled": 1, "worker_dead": 1}
    assert [(h["stage"], h["index"], h["reason"]) for h in shown["heals"]["last"]] == [
        ("process", 2, "worker_dead"),
        ("process", 2, "message_lost"),
        ("dedup", None, "stalled"),
    ]
    [stuck] = shown["stuck"]
    assert (stuck["stage"], stuck["index"], stuck["worker"], stuck["attempts"]) == ("process", 1, "process@gone", 1)
    assert 39 <= stuck["silent_s"] < 45

    out = runner.invoke(main, ["status", "job-1", *services], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "healed: 3 (message_lost 1, stalled 1, worker_dead 1)" in out.output
    assert re.search(r"│ process │ 2 +│ worker_dead +│ worker process@old", out.output), out.output
    assert re.search(r"│ dedup +│ - +│ stalled ", out.output), out.output
    assert "1 unit(s) started on workers silent for over 30 s:" in out.output
    assert re.search(r"process 1 on process@gone \(silent 4\d s\), started 20\S+\n", out.output), out.output
    assert "the supervisor sends them again by itself" in out.output and "auralith resume" not in out.output


def test_status_shows_the_removals_table(embedded_job):
    root, job_id = embedded_job
    out = CliRunner().invoke(
        main, ["status", job_id, "--store", f"sqlite:///{root / '.auralith' / 'auralith.db'}"], terminal_width=160
    )
    assert out.exit_code == 0, out.output
    assert "removals by reason" in out.output and "% of input" in out.output
    assert re.search(r"exact_duplicate\s*│\s*1\s*│\s*0\.17 %", out.output), out.output
    assert re.search(r"total\s*│\s*2\s*│\s*0\.33 %", out.output), out.output


def test_cancel_then_resume_then_jobs(tmp_path):
    url = _store(tmp_path)
    Store(url).set_job_state("job-1", JobState.RUNNING)
    # A broker of its own: the in-memory one is shared by the whole process (tests/cli/test_ops.py counts it).
    services = ["--store", url, "--broker", f"sqla+sqlite:///{tmp_path / 'broker.db'}"]
    runner = CliRunner()
    out = runner.invoke(main, ["cancel", "job-1", *services])
    assert out.exit_code == 0 and out.output.startswith("cancelled job-1 ("), out.output
    again = runner.invoke(main, ["cancel", "job-1", *services])
    assert again.exit_code == 1 and "error: job job-1 is already cancelled" in again.output
    out = runner.invoke(main, ["resume", "job-1", *services])
    assert out.exit_code == 0 and out.output == "resumed job-1\n", out.output
    listed = json.loads(runner.invoke(main, ["jobs", "--json", *services]).output)
    assert [(j["id"], j["state"]) for j in listed] == [("job-1", "running")]


def test_an_unknown_job_is_one_line(tmp_path):
    out = CliRunner().invoke(main, ["status", "nope", "--store", _store(tmp_path)])
    assert out.exit_code == 1 and out.output.startswith("error: no job 'nope'"), out.output
    assert "Traceback" not in out.output


def test_every_command_that_reads_the_store_takes_state_dir(embedded_job, tmp_path):
    root, job_id = embedded_job
    state = ["--state-dir", str(root / ".auralith")]
    runner = CliRunner()
    for args, expected in (
        (["status", job_id[:8]], "succeeded"),
        (["status", job_id, "--json"], '"state": "succeeded"'),
        (["watch", job_id], "succeeded"),
        (["logs", job_id], "succeeded:"),
        (["jobs"], job_id),
        (["report", job_id, "--out", str(tmp_path / "rep")], "wrote"),
        (["workers"], "no worker has a heartbeat"),  # the run's worker removed its heartbeat when it stopped
        (["queues"], "tokenize"),
    ):
        out = runner.invoke(main, [*args, *state])
        assert out.exit_code == 0 and expected in out.output, (args, out.output)
    # It read the job's config from the embedded store (this job has no near dedup to report).
    dedup = runner.invoke(main, ["dedup-report", job_id, *state])
    assert dedup.exit_code == 1 and f"job {job_id} ran without near dedup" in dedup.output, dedup.output
    cancel = runner.invoke(main, ["cancel", job_id, *state])
    assert cancel.exit_code == 1 and f"job {job_id} is already succeeded" in cancel.output
    # An embedded job resumes on its own worker: `resume` says how rather than queueing it for nobody.
    resume = runner.invoke(main, ["resume", job_id, *state])
    assert resume.exit_code == 1
    assert f"auralith run CONFIG --resume {job_id} --state-dir {root / '.auralith'}" in resume.output
    both = runner.invoke(main, ["jobs", *state, "--store", "sqlite:///x.db"])
    assert both.exit_code == 1 and "give either --store or --state-dir, not both" in both.output
    missing = runner.invoke(main, ["jobs", "--state-dir", str(tmp_path / "none")])
    assert missing.exit_code == 1 and f"no embedded store in {tmp_path / 'none'}" in missing.output
    assert not (tmp_path / "none").exists()


def test_jobs_state_must_be_a_job_state(tmp_path):
    from auralith.cli.jobs import JOB_STATES

    assert set(JOB_STATES) == {JobState.PENDING, JobState.RUNNING, *JobState.FINAL}
    out = CliRunner().invoke(main, ["jobs", "--state", "bogus", "--store", _store(tmp_path)])
    assert out.exit_code == 2 and "'bogus' is not one of 'pending', 'running', 'succeeded'" in out.output, out.output


def test_a_job_id_prefix_shorter_than_four_characters_is_too_short(tmp_path):
    out = CliRunner().invoke(main, ["status", "job", "--store", _store(tmp_path)])
    assert out.exit_code == 1 and "error: job id prefix 'job' is too short: give at least 4 characters" in out.output
    assert CliRunner().invoke(main, ["status", "job-", "--store", _store(tmp_path)]).exit_code == 0


def test_cancel_counts_revoked_tasks_in_words(tmp_path):
    url = _store(tmp_path)
    Store(url).set_job_state("job-1", JobState.RUNNING)
    # memory:// broadcasts, so the revoke goes out: the job's own task, and no partition yet.
    out = CliRunner().invoke(main, ["cancel", "job-1", "--store", url, "--broker", "memory://"])
    assert out.exit_code == 0 and out.output == "cancelled job-1 (1 task revoked)\n", out.output


def _submit_config(tmp_path, tokenizer: str, *sources: str) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "a.jsonl").write_text('{"id": "1", "text": "hello there"}\n')
    paths = ", ".join(f"{{path: {s}}}" for s in ("data/*.jsonl", *sources))
    path = tmp_path / "job.yaml"
    path.write_text(f"name: s\nsources: [{paths}]\ntokenization: {{tokenizer: {tokenizer}}}\n")
    return str(path)


def test_submit_checks_sources_and_tokenizer_on_this_machine_first(tmp_path, tokenizer_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    services = ["--store", url, "--broker", f"sqla+sqlite:///{tmp_path / 'broker.db'}"]
    runner = CliRunner()
    out = runner.invoke(main, ["submit", _submit_config(tmp_path, str(tokenizer_path), "gone/*.jsonl"), *services])
    assert out.exit_code == 1 and "sources[1].path: no files match" in out.output, out.output
    assert "if only the workers see these paths, submit with --no-check" in out.output
    out = runner.invoke(main, ["submit", _submit_config(tmp_path, "no.json", "gone/*.jsonl"), *services])
    assert out.exit_code == 1 and "tokenizer file not found" in out.output and "no files match" in out.output
    assert not (tmp_path / "store.db").exists() or Store(url).list_jobs() == [], "no job for a config that cannot run"
    skipped = runner.invoke(main, ["submit", _submit_config(tmp_path, "no.json"), "--no-check", *services])
    assert skipped.exit_code == 0, skipped.output
    assert [j.id for j in Store(url).list_jobs()] == [skipped.output.strip()]


def test_submit_priority_has_help():
    out = CliRunner().invoke(main, ["submit", "--help"], terminal_width=200)
    assert "--priority [low|normal|high|critical]" in out.output and "instead of the config's" in out.output
