"""Words, lines and paragraphs of one document, split once and shared by every quality filter.

Words are spaCy's English tokens, as datatrove counts them, computed without spaCy (steps/words.py). Each
split is a `cached_property`, so a filter that stops early never pays for the splits it did not need.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from itertools import accumulate

import numpy as np

from auralith.steps.punctuation import PUNCTUATION_SET
from auralith.steps.words import split_words

# Lines split on runs of newlines (as datatrove's repetition filter does); paragraphs on blank lines.
_LINES_RE = re.compile(r"\n+")
_PARAGRAPHS_RE = re.compile(r"\n{2,}")
_ALPHA = re.compile(r"[^\W\d_]")
# Han ideographs and kana: each character is a token. Chinese and Japanese put no spaces between words, so the
# regex would take a whole sentence for one word; one character a token keeps word counts, stop words (FineWeb-2's
# Chinese and Japanese lists are single characters) and n-grams meaningful without a segmenter.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class TextStats:
    """Lazily computed splits of one text. Build a new one when the text changes."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        """Tokens: words and single punctuation marks, in order."""
        text = self.text
        if _CJK.search(text):
            text = _CJK.sub(r" \g<0> ", text)
        return split_words(text)

    @cached_property
    def non_symbol_words(self) -> list[str]:
        """Tokens with at least one word character (Gopher's word count and mean word length)."""
        # As datatrove: a token with a character outside its punctuation set. Most tokens are alphanumeric, and
        # the set test only runs on the others.
        superset = PUNCTUATION_SET.issuperset
        return [w for w in self.words if w.isalnum() or not superset(w)]

    @cached_property
    def alpha_word_count(self) -> int:
        """Tokens with at least one alphabetic character."""
        search = _ALPHA.search
        return sum(1 for w in self.non_symbol_words if w.isalpha() or search(w))

    @cached_property
    def lines(self) -> list[str]:
        """Lines as `str.splitlines` gives them (empty ones included)."""
        return self.text.splitlines()

    @cached_property
    def newline_runs_lines(self) -> list[str]:
        """Lines split on runs of newlines: no empty lines in the middle."""
        return _LINES_RE.split(self.text)

    @cached_property
    def nonblank_lines(self) -> list[str]:
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return _PARAGRAPHS_RE.split(self.text.strip())

    @cached_property
    def word_ids(self) -> list[int]:
        """Each token as a small int (same token, same int): n-gram checks hash ints, not joined strings."""
        vocab: dict[str, int] = {}
        setdefault = vocab.setdefault
        return [setdefault(w, len(vocab)) for w in self.words]

    @cached_property
    def id_array(self) -> np.ndarray:
        return np.asarray(self.word_ids, dtype=np.uint64)

    @cached_property
    def length_prefix(self) -> list[int]:
        """`length_prefix[j] - length_prefix[i]`: characters of tokens i..j-1 (joined without spaces)."""
        return list(accumulate(map(len, self.words), initial=0))


def duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters): Gopher's duplicate line/paragraph counts."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars
