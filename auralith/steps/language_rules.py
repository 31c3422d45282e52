"""Quality settings per language: English keeps the configured (FineWeb) rules, other languages FineWeb-2's.

Gopher's stop words and alpha-word ratio, C4's line rules and FineWeb's short-line rule were made and tuned
for English; on German or Chinese they remove clean text (`few_stop_words`, `short_doc`, every line without
an English full stop). FineWeb-2 (Penedo et al. 2025) re-tuned the same filters per language; its settings
ship in `data/fineweb2_settings.json` (Apache-2.0). For a document identified as language L != `en`:

- FineWeb-2's recipe: none of C4's English line rules (terminal punctuation, 3 words a line, 5 sentences;
  its lorem-ipsum, curly-bracket and long-word rules stay, they hold in any language); Gopher repetition
  without the paragraph and line-character rules, with L's `dup_line_frac`, top and duplicate n-gram
  fractions; FineWeb without the short-line rule, with `char_duplicates_ratio` 0.1 and L's `line_punct_thr`
  and `new_line_ratio`; Gopher quality with L's stop words, word-length bounds and alpha-word ratio. Other
  keys (word counts, bullets, ...) stay as configured.
- A language FineWeb-2 has no settings for (or `und`): the same recipe with the language-dependent checks
  off (stop words, word lengths, alpha-word ratio, line punctuation): only language-independent rules.

In languages written without spaces (Chinese, Japanese, Thai, ...) word lengths mean little without a
segmenter (Han and kana count one character a word), so those bounds are off there too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from auralith.config.quality import QualityConfig

SETTINGS = Path(__file__).resolve().parent / "data" / "fineweb2_settings.json"
ENGLISH = "en"
NO_SPACES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz"})


# Below this score the identification is a guess (short English docstrings come out as `pt` at 0.37, doctest
# snippets as `da` at 0.15 in the demo): such a document keeps the configured rules, which are the default, and
# is judged by another language's rules only when the model is fairly sure of it.
RULES_MIN_SCORE = 0.5


def rules_language(lang: str | None, score: float) -> str | None:
    """The language whose rules judge a document: None (the configured rules) for an unsure identification."""
    return lang if lang is not None and score >= RULES_MIN_SCORE else None


@lru_cache(maxsize=1)
def fineweb2_settings() -> dict[str, dict]:
    return json.loads(SETTINGS.read_text(encoding="utf-8"))


def _override(model, updates: dict):
    """`model` with `updates`, except keys the config switched off (null, `{}`): a check off stays off."""
    kept = {k: v for k, v in updates.items() if getattr(model, k) not in (None, {})}
    return model.model_copy(update=kept)


def quality_for_language(base: QualityConfig, lang: str) -> QualityConfig:
    """The quality config for documents of `lang` (ISO 639-1), derived from the configured one."""
    fw2 = fineweb2_settings().get(lang)
    rep: dict = {"dup_para_frac": None, "dup_para_char_frac": None, "dup_line_char_frac": None}
    fineweb: dict = {"short_line_thr": None, "char_duplicates_ratio": 0.1, "line_punct_thr": None}
    gq: dict = {
        "min_stop_words": None,
        "min_alpha_words_ratio": None,
        "min_avg_word_length": None,
        "max_avg_word_length": None,
    }
    if fw2 is not None:
        rep.update(
            dup_line_frac=fw2["dup_line_frac"],
            top_n_grams={int(n): float(f) for n, f in fw2["top_n_grams"]},
            dup_n_grams={int(n): float(f) for n, f in fw2["dup_n_grams"]},
        )
        fineweb.update(line_punct_thr=fw2["line_punct_thr"], new_line_ratio=fw2["new_line_ratio"])
        # datatrove's `max_non_alpha_words_ratio` is the minimum share of words holding a letter.
        gq.update(min_alpha_words_ratio=fw2["max_non_alpha_words_ratio"])
        if lang not in NO_SPACES:
            gq.update(min_avg_word_length=fw2["min_avg_word_length"], max_avg_word_length=fw2["max_avg_word_length"])
        gq.pop("min_stop_words")  # the configured count of stop words, counted in L's list
    g = _override(base.gopher_quality, gq)
    if fw2 is not None:
        g = g.model_copy(update={"stop_words": list(fw2["stopwords"])})
    return base.model_copy(
        update={
            "gopher_repetition": _override(base.gopher_repetition, rep),
            "gopher_quality": g,
            # C4's English line rules off; its language-independent ones (lorem ipsum, `{`, long words,
            # citation marks) stay as configured.
            "c4": base.c4.model_copy(
                update={"filter_no_terminal_punct": False, "min_words_per_line": None, "min_num_sentences": None}
            ),
            "fineweb": _override(base.fineweb, fineweb),
        }
    )
