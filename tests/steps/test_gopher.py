"""Gopher quality and repetition: each check fires on its own input, under its own reason."""

from __future__ import annotations

import pytest

from auralith.config.quality import GopherQualityConfig, GopherRepetitionConfig
from auralith.steps.gopher import GopherQualityFilter, GopherRepetitionFilter
from auralith.steps.text_stats import TextStats
from tests.steps.quality_cases import KEEP

PROSE = KEEP[2]  # Moby-Dick's opening: passes every check


def quality(text: str, **cfg) -> str | None:
    return GopherQualityFilter(GopherQualityConfig(**cfg))(TextStats(text))


def repetition(text: str, **cfg) -> str | None:
    return GopherRepetitionFilter(GopherRepetitionConfig(**cfg))(TextStats(text))


def test_prose_passes_both():
    assert quality(PROSE) is None and repetition(PROSE) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("the cat and the dog.", "short_doc"),
        ("the of and to " * 30, "below_avg_word_length"),
        ("the and " + "incomprehensibilities " * 60, "above_avg_word_length"),
        (PROSE + " #a" * 40, "too_many_hashes"),
        (PROSE + " wait..." * 40, "too_many_ellipsis"),
        ("\n".join(f"- item number {i} with the words of a list and the rest" for i in range(20)), "too_many_bullets"),
        ("\n".join(f"the story goes on and on with word {i}..." for i in range(20)), "too_many_end_ellipsis"),
        (PROSE + " ".join(str(i) for i in range(60)), "below_alpha_ratio"),
        (" ".join(f"Word{i} Text{i}" for i in range(40)), "few_stop_words"),
    ],
)
def test_quality_checks(text, reason):
    assert quality(text) == f"gopher_quality.{reason}"


def test_quality_thresholds_switch_off_with_null():
    assert quality("the cat and the dog.", min_doc_words=None, min_stop_words=None) is None
    assert quality(PROSE, max_doc_words=10) == "gopher_quality.long_doc"


def test_stop_words_are_case_sensitive_as_in_gopher():
    text = " ".join(["The", "And"] * 30 + ["words"] * 30) + "."
    assert quality(text) == "gopher_quality.few_stop_words"


@pytest.mark.parametrize(
    ("text", "reason", "only"),
    [
        (
            "\n\n".join([PROSE, "Same paragraph here.", "Same paragraph here.", "Same paragraph here."]),
            "dup_para_frac",
            {},
        ),
        ("\n\n".join([PROSE, PROSE[:400], PROSE[:400], "a", "b", "c", "d"]), "dup_para_char_frac", {}),
        (PROSE + "\nok\nok\nok\nok\nok\nok\nok", "dup_line_frac", {}),
        (PROSE + "\n" + ("x" * 300 + "\n") * 2, "dup_line_char_frac", {}),
        (PROSE + " " + "big sale " * 60, "top_2gram", {}),
        (PROSE + " " + "the big sale " * 40, "top_3gram", {"top_n_grams": {3: 0.18}}),
        (PROSE + " " + "we have a deal " * 35, "top_4gram", {"top_n_grams": {4: 0.16}}),
        (PROSE + " " + " ".join(f"one two three four five {i}" for i in range(40)), "dup_5gram", {"top_n_grams": {}}),
    ],
)
def test_repetition_checks(text, reason, only):
    assert repetition(text, **only) == f"gopher_repetition.{reason}"


def test_repeated_ngrams_follow_datatrove_skipping():
    # datatrove's find_all_duplicate: after a repeat it jumps n tokens, so an n-gram is counted once per repeat.
    from auralith.steps.gopher import _repeated_ngram_chars

    st = TextStats("a b c d e a b c d e a b c d e")
    assert _repeated_ngram_chars(st, 5) == 10  # two repeats of "abcde", 5 characters each
    assert _repeated_ngram_chars(TextStats("a b c d e f"), 5) == 0


def test_top_ngram_seen_once_does_not_count():
    # datatrove would remove this 10-word text as top_3gram; no n-gram repeats, so it is not repetition.
    assert repetition("Return the sum of the two numbers given as arguments here.") is None
