"""Documents -> one token id array each: batch encoding, truncation, EOS, and the check of the fast encoder."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from auralith.steps.encoders import Encoder, ReferenceEncoder, fast_encoder
from auralith.steps.tokenize import token_dtype

# With the fast encoder, the first VERIFY_FIRST documents a DocumentTokenizer sees, and every verify_every-th
# after them, are encoded by the reference too and must give the same ids.
VERIFY_FIRST = 64


class EncoderMismatch(Exception):
    """The fast encoder's ids differ from the reference's for one document: nothing it encoded may be written."""

    def __init__(self, position: int, detail: str):
        super().__init__(f"document {position}: {detail}")
        self.position = position
        self.detail = detail


class DocumentTokenizer:
    """Encodes documents in batches into one id array per document, truncated, then EOS appended.

    Truncation and padding of `tok` are switched off (on the shared object): documents are cut by
    `max_length` here, so the truncation count is known, and padding would corrupt a packed stream.

    With `fast=True` the batches go through fastokens when it can load `tok` (else `fallback` says why and the
    reference encodes), and a sample of documents (the first VERIFY_FIRST, then every `verify_every`-th) is
    encoded by the reference too: a difference raises EncoderMismatch before the batch is returned.
    """

    def __init__(
        self,
        tok: Tokenizer,
        *,
        append_eos: bool,
        eos_id: int | None,
        max_length: int | None,
        batch_size: int,
        dtype: np.dtype | str | None = None,
        fast: bool = False,
        verify_every: int = 64,
    ):
        if append_eos and eos_id is None:
            raise ValueError("append_eos needs an eos_id")
        if verify_every <= 0:
            raise ValueError("verify_every must be positive")
        if tok.truncation is not None:
            tok.no_truncation()
        if tok.padding is not None:
            tok.no_padding()
        self.tok = tok
        self.append_eos = append_eos
        self.eos_id = eos_id
        self.max_length = max_length
        self.batch_size = batch_size
        self.dtype = np.dtype(dtype) if dtype is not None else token_dtype(tok.get_vocab_size(), "auto")
        self.reference = ReferenceEncoder(tok)
        self.verify_every = verify_every
        self.fallback: str | None = None  # why the reference encodes although the fast encoder was asked for
        self.encoder: Encoder = self.reference
        if fast:
            found = fast_encoder(tok)
            if isinstance(found, str):
                self.fallback = found
            else:
                self.encoder = found
        self.verified = 0  # documents the reference encoded a second time
        self._seen = 0  # documents encoded so far: the position of the next one

    def encode(self, texts: list[str]) -> tuple[list[np.ndarray], int]:
        """(one id array per text, in order; number of texts cut by max_length)."""
        out: list[np.ndarray] = []
        truncated = 0
        extra = 1 if self.append_eos else 0
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            ids, offsets = self.encoder.encode_flat(batch)
            if self.encoder is not self.reference:
                self._verify(batch, ids, offsets)
            self._seen += len(batch)
            for i in range(len(batch)):
                lo, hi = int(offsets[i]), int(offsets[i + 1])
                if self.max_length is not None and hi - lo > self.max_length:
                    hi = lo + self.max_length
                    truncated += 1
                arr = np.empty(hi - lo + extra, dtype=self.dtype)
                arr[: hi - lo] = ids[lo:hi]
                if extra:
                    arr[-1] = self.eos_id
                out.append(arr)
        return out, truncated

    def _verify(self, batch: list[str], ids: np.ndarray, offsets: np.ndarray) -> None:
        picked = [i for i in range(len(batch)) if self._sampled(self._seen + i)]
        if not picked:
            return
        expected = self.reference.encode_ids([batch[i] for i in picked])
        self.verified += len(picked)
        for i, want in zip(picked, expected, strict=True):
            got = ids[int(offsets[i]) : int(offsets[i + 1])]
            if len(got) != len(want) or not np.array_equal(got, np.asarray(want, dtype=np.uint32)):
                at = next((k for k, (a, b) in enumerate(zip(got.tolist(), want, strict=False)) if a != b), None)
                where = f"first difference at token {at}" if at is not None else "lengths differ"
                raise EncoderMismatch(
                    self._seen + i,
                    f"{self.encoder.name} gave {len(got)} ids, {self.reference.name} {len(want)} ({where})",
                )

    def _sampled(self, position: int) -> bool:
        return position < VERIFY_FIRST or position % self.verify_every == 0
