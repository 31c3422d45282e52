"""Tokenizer loading, EOS/dtype resolution, batch encoding and BPE training, on a tiny trained tokenizer."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from tokenizers import Tokenizer, models

from auralith.errors import ConfigError, TokenizerNotFound
from auralith.steps.document_tokenizer import DocumentTokenizer
from auralith.steps.tokenize import (
    load_tokenizer,
    resolve_eos_id,
    token_dtype,
    tokenizer_hash,
    train_bpe_tokenizer,
)

SUBJECTS = ["The cat", "A dog", "My neighbour", "The old sailor", "Every student", "That bird"]
VERBS = ["sees", "likes", "paints", "follows", "remembers", "builds"]
OBJECTS = ["the river", "a small house", "the morning light", "three red apples", "the quiet town"]


def make_corpus(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}." for _ in range(n)]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return make_corpus()


@pytest.fixture(scope="module")
def bpe(corpus: list[str]) -> Tokenizer:
    return train_bpe_tokenizer(corpus, 400)


@pytest.fixture
def bpe_file(bpe: Tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    bpe.save(str(path))
    return path


def test_training_is_deterministic(corpus, bpe):
    again = train_bpe_tokenizer(corpus, 400)
    assert tokenizer_hash(again) == tokenizer_hash(bpe)
    assert 256 < bpe.get_vocab_size() <= 400


@pytest.mark.parametrize(
    "text",
    [
        "The cat sees the river.",
        "  leading spaces,\ttabs\nand newlines  ",
        "Unicode: café, naïve, 日本語, emoji 🎉, Ωmega",
        "",
    ],
)
def test_byte_level_round_trip(bpe, text):
    ids = bpe.encode(text, add_special_tokens=False).ids
    assert bpe.decode(ids) == text


def test_resolve_eos_finds_known_token(bpe):
    assert resolve_eos_id(bpe, None) == bpe.token_to_id("<|endoftext|>")


def test_resolve_eos_given_token(bpe):
    token = bpe.id_to_token(300)
    assert resolve_eos_id(bpe, token) == 300


def test_resolve_eos_unknown_given_token(bpe):
    with pytest.raises(ConfigError, match="tokenization.eos_token: token '<nope>' is not in"):
        resolve_eos_id(bpe, "<nope>")


def test_resolve_eos_none_available():
    tok = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    with pytest.raises(ConfigError, match="append_eos: false") as info:
        resolve_eos_id(tok, None)
    assert info.value.problems[0].startswith("tokenization.eos_token")


def test_token_dtype():
    assert token_dtype(50257, "auto") == np.uint16
    assert token_dtype(65536, "auto") == np.uint16
    assert token_dtype(65537, "auto") == np.uint32
    assert token_dtype(128256, "uint32") == np.uint32
    assert token_dtype(1000, "uint32") == np.uint32
    with pytest.raises(ConfigError, match="tokenization.dtype"):
        token_dtype(128256, "uint16")


def test_encode_appends_eos_and_matches_tokenizer(bpe, corpus):
    eos = resolve_eos_id(bpe, None)
    enc = DocumentTokenizer(bpe, append_eos=True, eos_id=eos, max_length=None, batch_size=7)
    texts = corpus[:20] + [""]
    docs, truncated = enc.encode(texts)
    assert truncated == 0
    assert len(docs) == len(texts)
    for text, doc in zip(texts, docs, strict=True):
        assert doc.dtype == np.uint16
        assert doc[-1] == eos
        assert doc[:-1].tolist() == bpe.encode(text, add_special_tokens=False).ids
    assert docs[-1].tolist() == [eos]


def test_encode_truncates_before_eos(bpe, corpus):
    eos = resolve_eos_id(bpe, None)
    long_text = " ".join(corpus[:50])
    short_text = "A dog."
    assert len(bpe.encode(short_text).ids) <= 5
    enc = DocumentTokenizer(bpe, append_eos=True, eos_id=eos, max_length=5, batch_size=512)
    docs, truncated = enc.encode([long_text, short_text, long_text])
    assert truncated == 2
    assert docs[0].tolist() == bpe.encode(long_text).ids[:5] + [eos]
    assert docs[1].tolist() == bpe.encode(short_text).ids + [eos]


def test_encode_without_eos(bpe):
    enc = DocumentTokenizer(bpe, append_eos=False, eos_id=None, max_length=3, batch_size=2, dtype="uint32")
    docs, truncated = enc.encode(["The cat sees the river.", "A"])
    assert truncated == 1
    assert docs[0].dtype == np.uint32
    assert docs[0].tolist() == bpe.encode("The cat sees the river.").ids[:3]


def test_encode_disables_builtin_truncation(bpe_file):
    tok = Tokenizer.from_file(str(bpe_file))
    tok.enable_truncation(2)
    enc = DocumentTokenizer(tok, append_eos=False, eos_id=None, max_length=None, batch_size=4)
    docs, _ = enc.encode(["The old sailor remembers the quiet town."])
    assert len(docs[0]) > 2


def test_load_from_path_is_cached(bpe, bpe_file):
    tok = load_tokenizer(str(bpe_file))
    assert tokenizer_hash(tok) == tokenizer_hash(bpe)
    assert load_tokenizer(str(bpe_file)) is tok
    assert load_tokenizer(str(bpe_file.parent)) is tok  # a directory holding tokenizer.json


def test_missing_path(tmp_path):
    with pytest.raises(TokenizerNotFound, match="tokenizer file not found"):
        load_tokenizer(str(tmp_path / "nope.json"))
    with pytest.raises(TokenizerNotFound, match="tokenizer file not found"):
        load_tokenizer("./no/such/dir")


def test_hf_name_missing_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(TokenizerNotFound) as info:
        load_tokenizer("meta-llama/Llama-3.1-8B")
    msg = str(info.value)
    assert "not in the local HuggingFace cache" in msg
    assert str(tmp_path / "models--meta-llama--Llama-3.1-8B") in msg
    assert "offline" in msg
    assert "auralith tokenizer train CONFIG --vocab-size N --out tokenizer.json" in msg


def test_hf_home_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(TokenizerNotFound, match=re.escape(str(tmp_path / "hub" / "models--gpt2"))):
        load_tokenizer("gpt2")


def test_hf_name_in_fake_cache_prefers_refs_main(bpe, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--acme--tiny-bpe"
    other = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    for rev, tok in (("aaa111", bpe), ("zzz999", other)):
        (repo / "snapshots" / rev).mkdir(parents=True)
        tok.save(str(repo / "snapshots" / rev / "tokenizer.json"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("aaa111")
    loaded = load_tokenizer("acme/tiny-bpe")
    assert tokenizer_hash(loaded) == tokenizer_hash(bpe)
