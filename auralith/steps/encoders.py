"""Token encoders behind one interface: HF `tokenizers` (the reference) and fastokens (the fast default).

fastokens (Apache-2.0) loads the same `tokenizer.json` and gives the same ids at 15-30x the CPU throughput of
`encode_batch_fast` (docs/performance.md, bench/tokenize_stage.py). It is trusted only as far as it is checked:
`DocumentTokenizer` encodes a sample of every partition with both and falls back to the reference on any
difference (pipeline/tokenize.py), and a tokenizer fastokens cannot load runs on the reference.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from tokenizers import Tokenizer

from auralith.steps.tokenize import tokenizer_hash

REFERENCE = "tokenizers"
FAST = "fastokens"

# tokenizer sha256 -> the fast encoder built from it, or the reason it cannot be (one load per process).
_FAST: dict[str, FastEncoder | str] = {}


class Encoder(Protocol):
    name: str

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(every text's ids concatenated, int64 offsets of len(texts) + 1): text i is ids[off[i]:off[i+1]]."""
        ...


class ReferenceEncoder:
    """HF `tokenizers`: the ids every other encoder must reproduce."""

    name = REFERENCE

    def __init__(self, tok: Tokenizer):
        self.tok = tok

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        # encode_batch_fast skips computing character offsets, which we never use.
        return [enc.ids for enc in self.tok.encode_batch_fast(texts, add_special_tokens=False)]

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = self.encode_ids(texts)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=offsets[1:])
        flat = np.fromiter((t for x in ids for t in x), dtype=np.uint32, count=int(offsets[-1]))
        return flat, offsets


class FastEncoder:
    """fastokens over the reference's own JSON, so both encode with exactly the same tokenizer."""

    name = FAST

    def __init__(self, fast_tok):
        self.tok = fast_tok

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # One flat buffer for the batch: no Python object per token (the reference's main cost).
        ids, offsets = self.tok.encode_batch_flat(texts, add_special_tokens=False)
        return np.frombuffer(ids, dtype=np.uint32), np.frombuffer(offsets, dtype=np.uint64).astype(np.int64)


def fast_encoder(tok: Tokenizer) -> FastEncoder | str:
    """The fast encoder for `tok`, or why there is none (fastokens missing, or it cannot load this tokenizer)."""
    key = tokenizer_hash(tok)
    if key not in _FAST:
        _FAST[key] = _load_fast(tok)
    return _FAST[key]


def _load_fast(tok: Tokenizer) -> FastEncoder | str:
    try:
        import fastokens  # lazy: a Rust extension the reference path never needs
    except ImportError as exc:
        return f"fastokens is not installed ({exc})"
    try:
        fast_tok = fastokens.Tokenizer.from_json_str(tok.to_str())
    except Exception as exc:  # it raises plain exceptions for tokenizer.json features it does not support
        return f"fastokens cannot load this tokenizer: {exc}"
    fast_tok.no_truncation()
    fast_tok.no_padding()
    return FastEncoder(fast_tok)
