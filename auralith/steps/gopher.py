"""Gopher's quality and repetition rules (Rae et al. 2021, appendix A), with datatrove's semantics.

Each filter takes a document's TextStats and returns None to keep it or `gopher_*.<check>` to remove it;
checks run in datatrove's order, so the first failing one names the reason.
"""

from __future__ import annotations

import numpy as np

from auralith.config.quality import GopherQualityConfig, GopherRepetitionConfig
from auralith.steps.text_stats import TextStats, duplicates


class GopherQualityFilter:
    """Word count, mean word length, symbol ratio, bullet/ellipsis lines, alphabetic words, stop words."""

    def __init__(self, cfg: GopherQualityConfig):
        self.cfg = cfg
        self.stop_words = frozenset(cfg.stop_words)

    def __call__(self, st: TextStats) -> str | None:
        c = self.cfg
        words = st.non_symbol_words
        n = len(words)
        if c.min_doc_words is not None and n < c.min_doc_words:
            return "gopher_quality.short_doc"
        if c.max_doc_words is not None and n > c.max_doc_words:
            return "gopher_quality.long_doc"
        if n:
            mean = sum(map(len, words)) / n
            if c.min_avg_word_length is not None and mean < c.min_avg_word_length:
                return "gopher_quality.below_avg_word_length"
            if c.max_avg_word_length is not None and mean > c.max_avg_word_length:
                return "gopher_quality.above_avg_word_length"
        text = st.text
        n_tokens = len(st.words) or 1
        if c.max_symbol_word_ratio is not None:
            if text.count("#") / n_tokens > c.max_symbol_word_ratio:
                return "gopher_quality.too_many_hashes"
            if (text.count("...") + text.count("…")) / n_tokens > c.max_symbol_word_ratio:
                return "gopher_quality.too_many_ellipsis"
        lines = st.lines
        if lines:
            if c.max_bullet_lines_ratio is not None:
                bullets = sum(1 for s in lines if s.lstrip().startswith(("•", "-")))
                if bullets / len(lines) > c.max_bullet_lines_ratio:
                    return "gopher_quality.too_many_bullets"
            if c.max_ellipsis_lines_ratio is not None:
                ellipsis = sum(1 for s in lines if s.rstrip().endswith(("...", "…")))
                if ellipsis / len(lines) > c.max_ellipsis_lines_ratio:
                    return "gopher_quality.too_many_end_ellipsis"
        if c.min_alpha_words_ratio is not None and st.alpha_word_count / n_tokens < c.min_alpha_words_ratio:
            return "gopher_quality.below_alpha_ratio"
        if c.min_stop_words is not None and self._stop_words_present(st.words) < c.min_stop_words:
            return "gopher_quality.few_stop_words"
        return None

    def _stop_words_present(self, words: list[str]) -> int:
        # Case-sensitive, as in Gopher and datatrove ("The" at a sentence start does not count).
        return len(self.stop_words.intersection(words))


class GopherRepetitionFilter:
    """Duplicate lines/paragraphs, most frequent n-grams, characters in repeated n-grams."""

    def __init__(self, cfg: GopherRepetitionConfig):
        self.cfg = cfg

    def __call__(self, st: TextStats) -> str | None:
        c = self.cfg
        size = len(st.text)
        if not size:
            return "gopher_repetition.empty"
        paragraphs = st.paragraphs
        dup, dup_chars = duplicates(paragraphs)
        if c.dup_para_frac is not None and dup / len(paragraphs) > c.dup_para_frac:
            return "gopher_repetition.dup_para_frac"
        if c.dup_para_char_frac is not None and dup_chars / size > c.dup_para_char_frac:
            return "gopher_repetition.dup_para_char_frac"
        lines = st.newline_runs_lines
        dup, dup_chars = duplicates(lines)
        if c.dup_line_frac is not None and dup / len(lines) > c.dup_line_frac:
            return "gopher_repetition.dup_line_frac"
        if c.dup_line_char_frac is not None and dup_chars / size > c.dup_line_char_frac:
            return "gopher_repetition.dup_line_char_frac"
        n_tokens = len(st.words)
        for n, frac in c.top_n_grams.items():
            if n_tokens >= n and _top_ngram_chars(st, n) / size > frac:
                return f"gopher_repetition.top_{n}gram"
        if c.dup_n_grams and n_tokens >= min(c.dup_n_grams):
            # A repeated (n+1)-gram contains a repeated n-gram: when the smallest n has no repeat, no larger one
            # has, and the common case (no repetition) ends here.
            if not _ngram_counts(st, min(c.dup_n_grams)).repeated.size:
                return None
            for n, frac in c.dup_n_grams.items():
                if _repeated_ngram_chars(st, n) / size > frac:
                    return f"gopher_repetition.dup_{n}gram"
        return None


class _NgramCounts:
    """Each position's n-gram as a 64-bit hash, how often each occurs, and the positions of repeated ones.

    numpy does the hashing, sorting and counting in C: the Python loop that follows (datatrove's skipping
    walk) only visits positions whose n-gram occurs more than once, usually few or none. A 64-bit polynomial
    hash of token ids makes a false repeat about as likely as 1 in 10^19 per pair.
    """

    def __init__(self, ids: np.ndarray, n: int):
        m = len(ids) - n + 1
        h = np.zeros(m, dtype=np.uint64)
        for k in range(n):
            h = h * _HASH_MULT + ids[k : k + m]
        self.hashes = h
        _, self.first, inverse, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
        self.counts = counts
        self.inverse = inverse
        self.repeated = np.flatnonzero(counts[inverse] > 1)


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def _ngram_counts(st: TextStats, n: int) -> _NgramCounts:
    cache = st.__dict__.setdefault("_ngram_counts", {})
    if n not in cache:
        cache[n] = _NgramCounts(st.id_array, n)
    return cache[n]


def _top_ngram_chars(st: TextStats, n: int) -> int:
    """Characters of the most frequent n-gram (words joined by spaces) times its count; 0 when no n-gram repeats.

    datatrove also counts an n-gram seen once, which removes any short document (one 3-gram of a 10-word text
    is over 18% of it) under a repetition reason; at Gopher's 50-word floor that case never fires, so the
    two agree on the documents the rule was made for, and short documents meet `short_doc` instead.
    """
    g = _ngram_counts(st, n)
    if not g.repeated.size:
        return 0
    top = int(g.counts.max())
    # Ties go to the n-gram seen first, as with datatrove's Counter.most_common.
    start = int(g.first[g.counts == top].min())
    prefix = st.length_prefix
    return (prefix[start + n] - prefix[start] + n - 1) * top


def _repeated_ngram_chars(st: TextStats, n: int) -> int:
    """Characters in n-grams seen earlier, skipping past each repeat (datatrove's `find_all_duplicate`).

    Walks only the positions whose n-gram occurs more than once: a position holding a unique n-gram is never
    a repeat and is never looked up again, so skipping it changes nothing.
    """
    g = _ngram_counts(st, n)
    prefix = st.length_prefix
    hashes = g.hashes
    seen: set[int] = set()
    repeated = free_from = 0
    for i in g.repeated.tolist():
        if i < free_from:
            continue  # inside the previous repeat, which the walk jumped over
        h = int(hashes[i])
        if h in seen:
            repeated += prefix[i + n] - prefix[i]
            free_from = i + n
        else:
            seen.add(h)
    return repeated
