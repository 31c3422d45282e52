"""Words, lines and paragraphs of one document, split once and shared by every quality filter.

Word splitting is one compiled regex, not spaCy: the filters only need a word list close to what a
tokenizer gives (words, and punctuation as separate tokens), and a regex is ~50x faster. Each split is a
`cached_property`, so a filter that stops early never pays for the splits it did not need.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from itertools import accumulate

import numpy as np

# Tokens close to spaCy's English tokenizer (which datatrove uses), so thresholds tuned on it carry over:
# URLs and emails whole; contractions split ("do" "n't", "it" "'s"); options and paths keep their leading
# "-", "--" or "/"; numbers keep inner "." "," ":" ("1,000", "3.14", "10:30"); hyphens and slashes between
# words split; abbreviations ("e.g.", "W.") whole; units apart ("2" "m"); "..." and "…" whole; any other
# punctuation mark is a token of its own.
WORD_RE = re.compile(
    r"https?://[^\s<>\"'`]*[\w/]"
    r"|\w[\w.+-]*@\w[\w-]*(?:\.[\w-]+)+"
    r"|\w+(?=n['’]t\b)|n['’]t\b|['’](?:s|re|ve|ll|d|m)\b"
    r"|(?<![\w/-])(?:--?|/)\w+"
    r"|(?<!\w)(?:[A-Za-z]\.){2,}|\b[A-Z]\.(?=\s)"
    r"|\b\d+(?:\.\d+)?(?=(?:km|cm|mm|m|kg|mg|g|lb|s|ms|h|min|[kKMGT]?[bB])\b)"
    r"|\w+(?:(?:::|[.:=])\w+|,\d+)*"
    r"|\.\.\.|[^\w\s]"
)
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
        return WORD_RE.findall(text)

    @cached_property
    def non_symbol_words(self) -> list[str]:
        """Tokens with at least one word character (Gopher's word count and mean word length)."""
        # WORD_RE yields symbol-only tokens from two alternatives: "..." and one punctuation mark; every other
        # token holds a word character. Checking that is cheaper than a regex per token.
        return [w for w in self.words if len(w) > 1 and w != "..." or w.isalnum() or w == "_"]

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
