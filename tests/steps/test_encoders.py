"""fastokens gives `tokenizers`' ids on real multilingual text, and a tokenizer it cannot load runs on the reference."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from auralith.steps.document_tokenizer import DocumentTokenizer
from auralith.steps.encoders import FAST, REFERENCE, FastEncoder, ReferenceEncoder, fast_encoder
from auralith.steps.tokenize import train_bpe_tokenizer
from tests.corpus import EXAMPLES
from tests.multilingual import translated_documents


@pytest.fixture(scope="module")
def texts() -> list[str]:
    by_language = translated_documents(per_language=2, max_chars=6000)
    assert len(by_language) >= 30, "the machine's gettext catalogues hold fewer languages than expected"
    docs = [t for lang in sorted(by_language) for t in by_language[lang]]
    # Special tokens, odd whitespace and control characters in the text, as scraped text has them.
    docs += ["a <|endoftext|> b", "", " ", "\t\n\r\x00\x1b[0m", "🙂 emoji 👩‍👩‍👧 and ZWJ", "x" * 5000]
    return docs


def tokenizers_under_test(texts: list[str]) -> dict[str, Tokenizer]:
    return {
        "demo": Tokenizer.from_file(str(EXAMPLES / "tokenizer.json")),
        # A byte-level BPE trained on the same languages, so merges cross every script.
        "multilingual-4k": train_bpe_tokenizer(texts, 4000),
    }


def test_fastokens_gives_the_reference_ids_on_every_document(texts):
    for name, tok in tokenizers_under_test(texts).items():
        fast = fast_encoder(tok)
        assert isinstance(fast, FastEncoder), f"{name}: {fast}"
        ids, offsets = fast.encode_flat(texts)
        want = ReferenceEncoder(tok).encode_ids(texts)
        for i, expected in enumerate(want):
            assert ids[offsets[i] : offsets[i + 1]].tolist() == expected, f"{name}: document {i} differs"


def test_document_tokenizer_uses_the_fast_encoder_and_checks_a_sample(texts):
    tok = Tokenizer.from_file(str(EXAMPLES / "tokenizer.json"))
    fast = DocumentTokenizer(tok, append_eos=True, eos_id=0, max_length=50, batch_size=64, fast=True, verify_every=10)
    slow = DocumentTokenizer(tok, append_eos=True, eos_id=0, max_length=50, batch_size=64)
    assert fast.encoder.name == FAST and fast.fallback is None
    assert slow.encoder.name == REFERENCE
    got, got_cut = fast.encode(texts)
    want, want_cut = slow.encode(texts)
    assert got_cut == want_cut > 0
    assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert all(a.dtype == b.dtype for a, b in zip(got, want, strict=True))
    # The first 64 documents, then every 10th position.
    assert fast.verified == 64 + sum(1 for p in range(64, len(texts)) if p % 10 == 0)
    assert slow.verified == 0


def test_a_tokenizer_fastokens_cannot_load_runs_on_the_reference():
    tok = Tokenizer(models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    found = fast_encoder(tok)
    assert isinstance(found, str) and "cannot load" in found
    enc = DocumentTokenizer(tok, append_eos=False, eos_id=None, max_length=None, batch_size=8, fast=True)
    assert enc.encoder.name == REFERENCE and enc.fallback == found
    docs, _ = enc.encode(["hello world", "world bye"])
    assert [d.tolist() for d in docs] == [[0, 1], [1, 2]]


class OneWrongId:
    """A fast encoder that gives the reference's ids except for one document position (counted across calls)."""

    name = FAST

    def __init__(self, tok: Tokenizer, wrong_at: int):
        self.reference = ReferenceEncoder(tok)
        self.wrong_at = wrong_at
        self.seen = 0

    def encode_flat(self, texts):
        ids, offsets = self.reference.encode_flat(texts)
        i = self.wrong_at - self.seen
        self.seen += len(texts)
        if 0 <= i < len(texts) and offsets[i + 1] > offsets[i]:
            ids = ids.copy()
            ids[offsets[i]] += 1
        return ids, offsets


def test_a_difference_on_a_checked_document_raises_before_the_batch_is_returned(monkeypatch):
    from auralith.steps import document_tokenizer

    tok = Tokenizer.from_file(str(EXAMPLES / "tokenizer.json"))
    monkeypatch.setattr(document_tokenizer, "fast_encoder", lambda t: OneWrongId(t, wrong_at=70))
    enc = DocumentTokenizer(
        tok, append_eos=False, eos_id=None, max_length=None, batch_size=16, fast=True, verify_every=5
    )
    texts = [f"document number {i} says hello" for i in range(100)]
    with pytest.raises(document_tokenizer.EncoderMismatch) as raised:
        enc.encode(texts)
    assert raised.value.position == 70 and "first difference at token 0" in raised.value.detail
    # A difference on a document the sample skips goes unseen: the sample is the guarantee, stated in the docs.
    monkeypatch.setattr(document_tokenizer, "fast_encoder", lambda t: OneWrongId(t, wrong_at=71))
    enc = DocumentTokenizer(
        tok, append_eos=False, eos_id=None, max_length=None, batch_size=16, fast=True, verify_every=5
    )
    assert len(enc.encode(texts)[0]) == 100
