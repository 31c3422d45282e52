"""C4's bad-words filter (Raffel et al. 2020), per language, with datatrove's matching rules.

The lists are LDNOOBW's (CC BY 4.0), shipped in `steps/data/badwords/` at the commits datatrove reads
(nothing is downloaded). As in datatrove: the text is lower-cased; in Chinese, Japanese and Thai a listed word
matches anywhere (no spaces between words), elsewhere only between non-word characters; the few entries
datatrove allows because they are common sub-words (`性` in Chinese, ...) are left out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "badwords"
_NO_SPACES = frozenset({"ja", "th", "zh"})
_ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}


def badwords_languages() -> frozenset[str]:
    return frozenset(p.stem for p in DATA.glob("*.txt"))


@lru_cache(maxsize=64)
def badwords_regex(lang: str) -> re.Pattern[str] | None:
    """The compiled pattern of the language's list, or None when no list exists for it."""
    path = DATA / f"{lang}.txt"
    if not path.is_file():
        return None
    words = {w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()}
    words -= _ALLOWLIST.get(lang, set())
    # Longest first: an alternation takes the first branch that matches.
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if lang in _NO_SPACES:
        return re.compile(alternation)
    return re.compile(rf"(?:\W|^)(?:{alternation})(?:\W|$)")


class C4BadWordsFilter:
    """Returns `c4.badwords` for a document holding a listed word of its language, else None.

    A language without a list is not filtered.
    """

    def __init__(self, default_language: str = "en"):
        self.default_language = default_language

    def __call__(self, text: str, lang: str | None) -> str | None:
        regex = badwords_regex(lang or self.default_language)
        if regex is None:
            return None
        return "c4.badwords" if regex.search(text.lower()) else None
