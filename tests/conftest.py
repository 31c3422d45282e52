"""Shared fixtures: a tiny tokenizer that every test level can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from auralith.steps.tokenize import train_bpe_tokenizer
from tests.corpus import sentences


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok = train_bpe_tokenizer(sentences(400, seed=1), vocab_size=400)
    path.write_text(tok.to_str(), encoding="utf-8")
    return path


from tests.s3server import bucket, s3_server  # noqa: E402, F401  (fixtures: a moto S3 server on loopback)
