"""spaCy's English tokens without spaCy: the cases where a simpler split moved documents across thresholds."""

import pytest

from auralith.steps.text_stats import TextStats
from auralith.steps.words import split_words

# (text, spaCy 3.8's `spacy.blank("en")` tokens, as datatrove's split_into_words returns them)
CASES = [
    ("Title\n-------------\nText", ["Title", "-------------", "Text"]),
    ("see setns(2) and open(2).", ["see", "setns(2", ")", "and", "open(2", ")", "."]),
    ("a ~~~~~ b || c", ["a", "~~~~~", "b", "||", "c"]),
    ("x == y", ["x", "=", "=", "y"]),
    ("KEY=VALUE --opt", ["KEY", "=", "VALUE", "--opt"]),
    ("Copyright (c) Foo Inc. and/or LGPL-2.1+", ["Copyright", "(", "c", ")", "Foo", "Inc.", "and/or", "LGPL-2.1", "+"]),
    ("e.g. a. it's don't cannot", ["e.g.", "a.", "it", "'s", "do", "n't", "can", "not"]),
    ("x86-64 e-mail 50% +0200", ["x86", "-", "64", "e", "-", "mail", "50", "%", "+0200"]),
    ("https://github.com/nodejs/node is", ["https://github.com/nodejs/node", "is"]),
    ("(see above).", ["(", "see", "above", ")", "."]),
    ("quoted '' marks", ["quoted", "''", "marks"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "tokens"), CASES)
def test_spacy_english_tokens(text, tokens):
    assert split_words(text) == tokens


def test_symbol_words_and_alpha_ratio_as_datatrove_counts_them():
    st = TextStats("Heading\n=======\n\nsetns(2) joins a namespace • see also ~~~~")
    assert st.words == ["Heading", *"=" * 7, "setns(2", ")", "joins", "a", "namespace", "•", "see", "also", "~~~~"]
    # "•" is not in datatrove's punctuation set: a (non-alphabetic) word; "~~~~" and "=" are symbols.
    assert st.non_symbol_words == ["Heading", "setns(2", "joins", "a", "namespace", "•", "see", "also"]
    assert st.alpha_word_count == 7


def test_chinese_and_japanese_one_character_a_word():
    assert TextStats("我的故乡。").words == ["我", "的", "故", "乡", "。"]


def test_the_short_cuts_give_the_rules_own_tokens(monkeypatch):
    """The suffix rule searched only near the end and the infix search skipped for ASCII without an infix
    character give the tokens of the rules applied in full, on the demo corpus and the multilingual texts."""
    import json
    from pathlib import Path

    from auralith.steps import words
    from tests.multilingual import translated_documents

    root = Path(__file__).resolve().parents[2]
    texts = [json.loads(line)["text"] for line in (root / "examples" / "data" / "stdlib-a.jsonl").open()]
    texts += [t for docs in translated_documents(per_language=1).values() for t in docs]
    texts += ["a.... b..x ...c 10km 5$ $5 n't U.S. e.g.. x:=y a<b>c 1^2 a~b ¿qué? “quoted”…"]
    words._CACHE.clear()
    fast = [split_words(t) for t in texts]
    assert words._SUFFIX_SPLIT is not None and words._INFIX_CANDIDATE is not None
    monkeypatch.setattr(words, "_SUFFIX_SPLIT", None)
    monkeypatch.setattr(words, "_INFIX_CANDIDATE", None)
    words._CACHE.clear()
    assert [split_words(t) for t in texts] == fast
    words._CACHE.clear()


def test_top_level_alternatives_keep_groups_and_classes_whole():
    from auralith.steps.words import top_level_alternatives

    assert top_level_alternatives(r"a|b(c|d)|[|]|[]|]|\||(?<=x)y$") == ["a", "b(c|d)", "[|]", "[]|]", r"\|", "(?<=x)y$"]
