"""Fixtures of the command-line tests: a job run by `auralith run`, training shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.command import run_auralith
from tests.corpus import sentences, write_jsonl
from tests.train.conftest import shards_manifest  # noqa: F401  (a fixture: tokenized shards to train on)


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
    done = run_auralith("run", "job.yaml", "--json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, json.loads(done.stdout)["id"]
