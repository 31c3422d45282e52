"""`auralith run`: a whole job with no servers (SQLite broker and store, in-process worker)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from auralith.steps.shards import load_manifest
from auralith.storage import Files
from auralith.store import Store
from auralith.store.models import PartitionState
from auralith.worker.embedded import default_workers
from tests.cli.command import AURALITH, auralith_env, run_auralith
from tests.corpus import EXAMPLES, sentences, write_jsonl

files = Files()  # no job: the environment's storage settings


def _demo_copy(tmp_path: Path) -> Path:
    for name in ("data", "tokenizer.json", "demo.yaml"):
        src = EXAMPLES / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    return tmp_path / "demo.yaml"


def test_run_demo_with_no_servers(tmp_path):
    config = _demo_copy(tmp_path)
    # Server settings in the environment (run_auralith sets them) do not pull `run` off its embedded services.
    out = run_auralith("run", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for expected in (
        f"running with {default_workers()} worker processes",  # one per core unless --workers says otherwise
        "process",
        "dedup",
        "tokenize",
        "succeeded",
        "documents in",
        "removed: exact_duplicate",
        "removed: length.too_short",
        "tokens",
        "shards",
        str(tmp_path / "out" / "demo"),
    ):
        assert expected in out.stdout, out.stdout
    manifest = load_manifest(files, tmp_path / "out" / "demo" / "manifest.json")
    assert manifest["documents"] > 1000 and manifest["tokens"] > 0
    assert (tmp_path / ".auralith" / "auralith.db").exists()
    assert list((tmp_path / "work").glob("*/removed/*.jsonl.zst")), "keep_removed writes removed documents aside"

    # The embedded store answers the same commands as a server one.
    store = f"sqlite:///{tmp_path / '.auralith' / 'auralith.db'}"
    listed = run_auralith("--store", store, "jobs", "--json", cwd=tmp_path)
    job = json.loads(listed.stdout)[0]
    assert job["state"] == "succeeded"
    again = run_auralith("run", str(config), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["id"] != job["id"] and second["stats"]["tokens"] == manifest["tokens"]


def test_run_reports_config_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [{path: '*.jsonl'}]\npreprocessing: {length: {min_chars: -1}}\n")
    out = run_auralith("run", str(bad), cwd=tmp_path)
    assert out.returncode == 1
    assert "preprocessing.length.min_chars" in out.stderr and "tokenization: Field required" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_run_reports_a_missing_tokenizer_clearly(tmp_path):
    config = _demo_copy(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    out = run_auralith("run", str(config), cwd=tmp_path)
    assert out.returncode == 1
    assert "tokenizer file not found" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def _first_process_commit(store: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            jobs = Store(store).list_jobs()
            parts = Store(store).list_partitions(jobs[0].id, "process") if jobs else []
        except Exception:  # the store is being created
            parts = []
        if any(p.state == PartitionState.COMMITTED for p in parts):
            return
        time.sleep(0.05)


def test_interrupted_run_is_cancelled_and_the_printed_command_finishes_it(tmp_path, tokenizer_path):
    write_jsonl(
        tmp_path / "data" / "c.jsonl", [{"id": f"d{i:05d}", "text": t} for i, t in enumerate(sentences(12000, seed=4))]
    )
    config = tmp_path / "job.yaml"
    config.write_text(
        f"name: interrupted\nsources: [{{path: data/*.jsonl}}]\npartition_size_mb: 0.1\n"
        "preprocessing: {quality: {enabled: false}}\n"
        f"tokenization: {{tokenizer: {tokenizer_path}}}\noutput: {{path: out}}\n"
    )
    # SIGINT back to its default in the child: pytest started in the background by a shell without job
    # control (`pytest &` in a script) ignores SIGINT, the child would inherit that and never see Ctrl-C.
    proc = subprocess.Popen(
        [str(AURALITH), "run", "job.yaml", "--state-dir", "my state"],
        cwd=tmp_path,
        env=auralith_env(tmp_path),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    store = f"sqlite:///{tmp_path / 'my state' / 'auralith.db'}"
    _first_process_commit(store)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "Exception ignored" not in out, "a Ctrl-C that lands in a finaliser is delivered, not dropped"
    hint = re.search(r"cancelled, its committed partitions kept; finish it with: (.*)", out).group(1)
    job_id = Store(store).list_jobs()[0].id
    assert hint == f"auralith run job.yaml --resume {job_id} --state-dir 'my state'"
    assert Store(store).get_job(job_id).state == "cancelled"

    resumed = run_auralith(*shlex.split(hint)[1:], "--json", cwd=tmp_path)  # pasted as printed
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    info = json.loads(resumed.stdout)
    assert info["id"] == job_id and info["state"] == "succeeded"
    assert info["stats"]["documents_out"] == 12000


def test_errors_holding_brackets_print_as_text(tmp_path):
    # Rich would read "[/data/x]" as a closing markup tag and crash with a traceback.
    config = tmp_path / "job.yaml"
    config.write_text("sources: [{path: '/nonexistent/[/data/x]/*.jsonl'}]\ntokenization: {tokenizer: '[/t].json'}\n")
    out = run_auralith("run", str(config), cwd=tmp_path)
    assert out.returncode == 1
    assert "no files match '/nonexistent/[/data/x]/*.jsonl'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_a_job_with_too_little_data_to_train_fails_after_dedup_with_the_figures(tmp_path, tokenizer_path):
    write_jsonl(tmp_path / "data" / "c.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(sentences(6, seed=2))])
    (tmp_path / "job.yaml").write_text(
        "name: small\nsources: [{path: data/*.jsonl}]\npreprocessing: {quality: {enabled: false}}\n"
        f"tokenization: {{tokenizer: {tokenizer_path}}}\noutput: {{path: out}}\n"
        "training: {context: 128, eval_every: 10, val_fraction: 0.05, steps: 20, warmup_steps: 2}\n"
    )
    out = run_auralith("run", "job.yaml", "--json", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    job = json.loads(out.stdout)
    assert job["error"].startswith("dedup partition 0: too little data to train: 6 documents are left after ")
    assert "training needs at least 2,580 (a val split of 0.05 of them holding context + 1 = 129)" in job["error"]
    assert "lower training.context, training.val_fraction (or eval_every: 0), relax the filters" in job["error"]
    stages = job["stats"]["stages"]
    assert stages["dedup"]["failed"] == 1 and stages["tokenize"]["committed"] == 0 and "train" in stages
    logs = run_auralith("logs", job["id"], "--state-dir", ".auralith", cwd=tmp_path)
    assert "too little data to train" in logs.stdout, logs.stdout
