"""FineWeb's line rules, each under its own reason."""

from __future__ import annotations

import pytest

from auralith.config.quality import FineWebConfig
from auralith.steps.fineweb import FineWebQualityFilter
from auralith.steps.text_stats import TextStats
from tests.steps.quality_cases import KEEP


def fineweb(text: str, **cfg) -> str | None:
    return FineWebQualityFilter(FineWebConfig(**cfg))(TextStats(text))


def test_prose_passes():
    assert all(fineweb(t) is None for t in KEEP)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "\n".join(f"A long line of text number {i} that never comes to an end" for i in range(10)),
            "line_punct_ratio",
        ),
        ("\n".join(["Short one.", "Another.", "Yes.", KEEP[2]]), "short_line_ratio"),
        (
            KEEP[2] + "\nThis line is here twice, word for word.\nThis line is here twice, word for word.",
            "char_dup_ratio",
        ),
        (
            "\n".join(f"Supercalifragilistic{w}expialidocious {w}alphabetically." for w in "abcdefghijklmnopqrst"),
            "newline_ratio",
        ),
        ("   \n  ", "empty"),
    ],
)
def test_checks(text, reason):
    assert fineweb(text) == f"fineweb.{reason}"


def test_unicode_sentence_ends_count():
    assert (
        fineweb(
            "\n".join(["これは日本語の文章です。" * 3] * 3),
            short_line_length=5,
            char_duplicates_ratio=None,
            new_line_ratio=None,
        )
        is None
    )


def test_exclude_zero_keeps_pages_with_no_punctuation_at_all():
    text = "\n".join(f"A long line of text number {i} that never comes to an end" for i in range(10))
    assert fineweb(text, line_punct_exclude_zero=True) is None
