"""Shards for training tests: the test corpus tokenized and packed by the pipeline's own shard writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from auralith.steps.shards import ShardWriter, write_manifest
from auralith.storage import Files, join
from tests.corpus import sentences

files = Files()  # no job: the environment's storage settings


def write_shards(out: Path, tokenizer_path: Path, compression: str = "none", docs: int = 300) -> Path:
    """A manifest over a few shards of `docs` tokenized documents (EOS appended); returns its path."""
    tok = Tokenizer.from_file(str(tokenizer_path))
    eos = tok.get_vocab_size() - 1
    writer = ShardWriter(files, out, "part-00000", dtype="uint16", max_shard_bytes=20_000, compression=compression)
    for enc in tok.encode_batch(sentences(docs, seed=5)):
        writer.add(np.array([*enc.ids, eos], dtype=np.uint16))
    shards = writer.close()
    return write_manifest(
        files,
        out,
        {
            "format": "auralith-manifest/1",
            "shards": [s.to_dict() for s in shards],
            "tokenizer": {"vocab_size": tok.get_vocab_size(), "eos_id": eos},
            "tokens": sum(s.n_tokens for s in shards),
        },
    )


@pytest.fixture(scope="session")
def shards_manifest(tmp_path_factory, tokenizer_path) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards"), tokenizer_path)


def upload_folder(local: Path, url: str) -> str:
    """Copy every file of a local output folder to `url` (an s3:// prefix); returns the manifest's URL."""
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        files.write_bytes_atomic(join(url, path.relative_to(local).as_posix()), path.read_bytes())
    return join(url, "manifest.json")
