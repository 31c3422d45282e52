"""The demo job end to end on a real Celery worker, Redis and PostgreSQL."""

from __future__ import annotations

import glob
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tokenizers import Tokenizer

from auralith.cli.main import main
from auralith.config import load_config
from auralith.steps.language import LanguageFilter
from auralith.steps.language_rules import rules_language
from auralith.steps.normalize import TextNormalizer
from auralith.steps.quality import QualityChain
from auralith.steps.shards import iter_shard_documents, load_manifest
from auralith.storage import Files
from auralith.store.models import JobState
from tests.corpus import EXAMPLES, sentences, write_jsonl

files = Files()  # no job: the environment's storage settings

pytestmark = pytest.mark.integration


@pytest.fixture()
def demo_config(tmp_path: Path) -> Path:
    """The shipped demo, copied so its outputs land in tmp_path."""
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    shutil.copy(EXAMPLES / "tokenizer.json", tmp_path / "tokenizer.json")
    shutil.copy(EXAMPLES / "demo.yaml", tmp_path / "demo.yaml")
    return tmp_path / "demo.yaml"


def expected_documents(config_path: Path) -> tuple[list[str], int]:
    """What the job must keep, computed without the pipeline: every source record in input order,
    normalised, length-filtered, through the quality chain, then one document per exact text, the one with the
    smallest id."""
    cfg = load_config(config_path)
    normalize = TextNormalizer(cfg.preprocessing.normalize)
    rows: list[tuple[str, str]] = []
    records = 0
    for src in cfg.sources:
        files = sorted({p for pat in src.patterns for p in glob.glob(pat)})
        for path in files:
            if path.endswith(".txt"):
                records += 1
                rows.append((path, normalize(Path(path).read_text(encoding="utf-8"))))
                continue
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        records += 1
                        rec = json.loads(line)
                        rows.append((str(rec[src.id_field]), normalize(rec[src.text_field])))
    rows = [(i, t) for i, t in rows if cfg.preprocessing.length.min_chars <= len(t)]
    chain = QualityChain(cfg.preprocessing.quality, cfg.preprocessing.pii)
    identify = LanguageFilter(cfg.preprocessing.language)  # the quality rules follow each document's language
    rows = [(i, cleaned) for i, t in rows for cleaned, reason in [chain(t, _rules(identify, t))] if reason is None]
    winner: dict[str, str] = {}
    for doc_id, t in rows:
        if t not in winner or doc_id < winner[t]:
            winner[t] = doc_id
    return [t for doc_id, t in rows if winner[t] == doc_id], records


def _rules(identify: LanguageFilter, text: str) -> str | None:
    lang, score, _ = identify(text)
    return rules_language(lang, score)


def shard_documents(manifest_path: Path) -> list[np.ndarray]:
    manifest = load_manifest(files, manifest_path)
    return [
        doc.copy()
        for shard in manifest["shards"]
        for doc in iter_shard_documents(files, manifest_path.parent / shard["path"])
    ]


# PII the worker must find with `phone_regions: [DE]`, next to version strings it must leave alone.
PII_NOTE = """Payments and support.

The support team answers the telephone at 030 1234567 on every weekday, and the payments for the yearly
licence go to the account DE89 3704 0044 0532 0130 00 as they always have, with the invoice number written
in the reference field so that the accounting office can match them with the right customer quickly.
The build of the package needs libxi6 (>= 2:1.5.99.2) and mono (6.8.0.105+dfsg-3.3), as the changelog
explains in more detail for those who want to rebuild it from the sources themselves.
A mistyped account such as DE89 3704 0044 0532 0130 01 is neither an account number nor a card number,
and the office will write back to ask for the correct one before any money is sent anywhere at all.
"""


def test_demo_job_shards_hold_exactly_the_kept_documents(client, demo_config):
    (demo_config.parent / "data" / "notes" / "pii.txt").write_text(PII_NOTE)
    cfg = yaml.safe_load(demo_config.read_text())
    cfg["preprocessing"]["pii"]["phone_regions"] = ["DE"]
    demo_config.write_text(yaml.safe_dump(cfg))
    job_id = client.submit(demo_config)
    info = client.wait(job_id, timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error

    expected, records = expected_documents(demo_config)
    manifest_path = Path(info.output) / "manifest.json"
    manifest = load_manifest(files, manifest_path)
    tok = Tokenizer.from_file(str(demo_config.parent / "tokenizer.json"))
    eos = manifest["tokenizer"]["eos_id"]
    docs = shard_documents(manifest_path)

    assert len(docs) == len(expected) == manifest["documents"] == info.stats.documents_out
    for tokens, text in zip(docs, expected, strict=True):
        assert tokens[-1] == eos and eos not in tokens[:-1]
        assert tok.decode(tokens[:-1].tolist(), skip_special_tokens=False) == text
    assert sum(len(d) for d in docs) == manifest["tokens"]
    # Written by fastokens, with exactly the ids HF tokenizers gives.
    assert manifest["tokenizer"]["encoders"] == {"fastokens": len(docs)}
    assert manifest["tokenizer"]["encoder_fallbacks"] == []
    reference = tok.encode_batch_fast(expected, add_special_tokens=False)
    assert [d[:-1].tolist() for d in docs] == [e.ids for e in reference]

    # Every input record is accounted for exactly once: kept, or removed with a reason.
    st = info.stats
    assert st.records == records
    assert st.records == st.documents_out + sum(st.removed.values())
    assert st.removed["exact_duplicate"] > 0 and st.removed["length.too_short"] == 4
    assert {r.split(".")[0] for r in st.removed} >= {"gopher_quality", "gopher_repetition", "c4", "fineweb"}
    # Found in the documents that pass the quality filters; the versions in PII_NOTE are left alone.
    assert st.pii == {"email": 5, "ip": 2, "phone": 1, "iban": 1}
    assert any("libxi6 (>= 2:1.5.99.2) and mono (6.8.0.105+dfsg-3.3)" in t and "<PHONE>" in t for t in expected)


def test_run_job_delay_from_python(client, demo_config):
    from auralith.worker.tasks import run_job

    cfg = yaml.safe_load(demo_config.read_text())
    cfg["base_dir"] = str(demo_config.parent)  # relative paths resolve here, not in the worker's cwd
    result = run_job.delay(cfg)
    info = client.wait(result.id, timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error
    assert info.id == result.id


def test_invalid_config_sent_from_python_fails_the_job_with_its_key_path(client):
    from auralith.worker.tasks import run_job

    result = run_job.delay({"name": "broken", "sources": [], "tokenization": {"tokenizer": "t.json"}})
    info = client.wait(result.id, timeout=60)
    assert info.state == JobState.FAILED and info.name == "broken"
    assert "sources: List should have at least 1 item" in info.error


def test_bad_input_is_reported_with_file_and_line_and_the_rest_kept(client, tokenizer_path, tmp_path):
    good = sentences(30, seed=7)
    data = tmp_path / "data"
    write_jsonl(data / "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(good[:10])])
    with open(data / "a.jsonl", "ab") as fh:
        fh.write(b'{"id": "broken", "text": "no closing brace"\n')  # line 11
        fh.write(b'{"id": "bytes", "text": "caf\xe9 latin-1"}\n')  # line 12
        fh.write(b'{"id": "notext", "body": "wrong field"}\n')  # line 13
        fh.write(json.dumps({"id": "a-last", "text": good[10]}).encode() + b"\n")  # line 14
    (data / "empty.jsonl").write_bytes(b"")
    blob = gzip.compress(
        "".join(json.dumps({"id": f"g{i}", "text": t}) + "\n" for i, t in enumerate(good[11:])).encode()
    )
    (data / "cut.jsonl.gz").write_bytes(blob[: len(blob) * 2 // 3])
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "bad-input",
                "sources": [{"path": "data/*.jsonl*"}],
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out"},
                "work_dir": "work",
            }
        )
    )

    info = client.wait(client.submit(config), timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error
    st = info.stats
    issues = {(Path(i["file"]).name, i["line"], i["reason"]) for i in st.issues}
    assert ("a.jsonl", 11, "invalid_json") in issues
    assert ("a.jsonl", 12, "invalid_utf8") in issues
    assert ("a.jsonl", 13, "missing_field") in issues
    assert ("empty.jsonl", None, "empty_file") in issues
    assert any(name == "cut.jsonl.gz" and reason == "truncated" for name, _, reason in issues)
    # Nothing else is lost: the 11 good lines of a.jsonl, and what gzip could decode before the cut.
    kept_gz = st.documents_out - 11
    assert 0 < kept_gz < len(good) - 11
    assert st.records == st.documents_out + sum(st.removed.values())

    runner = CliRunner()
    out = runner.invoke(main, ["status", info.id])
    assert out.exit_code == 0, out.output
    assert "a.jsonl" in out.output and "invalid_json" in out.output and "missing_field" in out.output
    as_json = json.loads(runner.invoke(main, ["status", info.id, "--json"]).output)
    assert as_json["stats"]["input_errors"]["invalid_json"] == 1


def test_cancel_then_resume(client, tokenizer_path, tmp_path):
    write_jsonl(
        tmp_path / "data" / "big.jsonl", [{"id": f"d{i:05d}", "text": t} for i, t in enumerate(sentences(3000, seed=3))]
    )
    config = tmp_path / "job.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "cancel-me",
                "sources": [{"path": "data/*.jsonl"}],
                "partition_size_mb": 0.02,
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out"},
                "work_dir": "work",
            }
        )
    )
    runner = CliRunner()
    job_id = client.submit(config)
    out = runner.invoke(main, ["cancel", job_id])
    assert out.exit_code == 0, out.output
    info = client.get_job(job_id)
    assert info.state == JobState.CANCELLED

    out = runner.invoke(main, ["resume", job_id])
    assert out.exit_code == 0, out.output
    info = client.wait(job_id, timeout=180)
    assert info.state == JobState.SUCCEEDED, info.error
    assert info.stats.documents_out == 3000

    jobs = runner.invoke(main, ["jobs", "--json"])
    assert job_id in {j["id"] for j in json.loads(jobs.output)}
    again = runner.invoke(main, ["resume", job_id])
    assert again.exit_code == 1 and "already succeeded" in again.output and "Traceback" not in again.output


def test_two_running_jobs_may_not_share_an_output_folder(client, demo_config, pg_store):
    from auralith.config import load_config
    from auralith.store import Store, new_job_id

    cfg = load_config(demo_config)
    busy = new_job_id()  # a job some worker is still writing into the same folder
    Store(pg_store).create_job(busy, cfg.model_dump(mode="json"), cfg.config_hash(), "busy", "normal")
    Store(pg_store).set_job_state(busy, JobState.RUNNING)
    try:
        info = client.wait(client.submit(demo_config), timeout=120)
    finally:
        Store(pg_store).set_job_state(busy, JobState.CANCELLED)
    assert info.state == JobState.FAILED
    assert f"output.path: {cfg.output.path} is being written by running job {busy}" in info.error


def test_failed_partition_then_resume_finishes_the_job(client, demo_config, monkeypatch):
    """A partition fails for good (here: a worker that cannot see an input file); once that is fixed,
    `resume` redoes only what is not committed, under new task ids for the failed ones."""
    from auralith.errors import InputError
    from auralith.pipeline import process

    real = process.process_partition

    def fails_on_partition_2(cfg, pieces, paths, index, progress=None):
        if index == 2:
            raise InputError("cannot open: No such file or directory", file=pieces[0].path)
        return real(cfg, pieces, paths, index, progress)

    monkeypatch.setattr(process, "process_partition", fails_on_partition_2)
    job_id = client.submit(demo_config)
    failed = client.wait(job_id, timeout=120)
    assert failed.state == JobState.FAILED
    assert "process partition 2" in failed.error and "cannot open" in failed.error
    assert failed.stats.stages["process"].failed == 1

    monkeypatch.setattr(process, "process_partition", real)  # the mount is back
    client.resume(job_id)
    info = client.wait(job_id, timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error
    expected, _ = expected_documents(demo_config)
    assert info.stats.documents_out == len(expected)
