"""Shared fixtures: a tiny tokenizer that every test level can use, and an empty in-memory broker per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auralith.steps.tokenize import train_bpe_tokenizer
from tests.corpus import sentences, write_jsonl


@pytest.fixture(autouse=True)
def empty_memory_broker():
    """kombu's memory:// broker is one per process: each test starts with it empty, whatever an earlier one sent."""
    from kombu.transport.memory import Channel

    for queue in Channel.queues.values():
        queue.queue.clear()
    yield


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok = train_bpe_tokenizer(sentences(400, seed=1), vocab_size=400)
    path.write_text(tok.to_str(), encoding="utf-8")
    return path


# Here rather than in tests/cli: the API tests read the same finished job (one `auralith run` per session).
@pytest.fixture(scope="session")
def embedded_job(tmp_path_factory, tokenizer_path) -> tuple[Path, str]:
    """(folder, job id) of a small two-source job run by `auralith run` (embedded store in folder/.auralith)."""
    root = tmp_path_factory.mktemp("embedded")
    texts = sentences(600, seed=5)
    write_jsonl(
        root / "data" / "web.jsonl",
        [{"id": f"w{i:04d}", "text": t} for i, t in enumerate(texts)]
        + [{"id": "dup", "text": texts[0]}, {"id": "short", "text": "tiny"}],
    )
    (root / "notes").mkdir()
    for i in range(3):
        (root / "notes" / f"n{i}.txt").write_text(" ".join(texts[i * 10 : (i + 1) * 10]))
    (root / "job.yaml").write_text(
        f"name: small\nsources: [{{path: data/*.jsonl}}, {{path: notes/*.txt}}]\npartition_size_mb: 0.05\n"
        f"work_dir: work\npreprocessing: {{length: {{min_chars: 10}}, quality: {{enabled: false}}}}\n"
        f"tokenization: {{tokenizer: {tokenizer_path}}}\noutput: {{path: out}}\n"
    )
    from tests.cli.command import run_auralith

    done = run_auralith("run", "job.yaml", "--json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, json.loads(done.stdout)["id"]


from tests.s3server import bucket, s3_server  # noqa: E402, F401  (fixtures: a moto S3 server on loopback)
