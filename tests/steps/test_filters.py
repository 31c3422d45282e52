"""LengthFilter: a reason string for each removed document, None for a kept one."""

from __future__ import annotations

import pytest

from auralith.config.preprocessing import LengthConfig
from auralith.steps.filters import LengthFilter


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "length.empty"),
        ("a", "length.too_short"),
        ("ab", "length.too_short"),
        ("abc", None),  # == min_chars
        ("abcd", None),
        ("abcde", None),  # == max_chars
        ("abcdef", "length.too_long"),
        ("x" * 1000, "length.too_long"),
    ],
)
def test_bounds(text, reason):
    assert LengthFilter(LengthConfig(min_chars=3, max_chars=5))(text) == reason


def test_counts_characters_not_bytes():
    keep = LengthFilter(LengthConfig(min_chars=3, max_chars=3))
    assert keep("日本語") is None and keep("🎉🎉🎉") is None


def test_no_upper_bound():
    f = LengthFilter(LengthConfig(min_chars=1, max_chars=None))
    assert f("x" * 2_000_000) is None
    assert f("") == "length.empty"


def test_empty_is_removed_even_with_min_zero():
    f = LengthFilter(LengthConfig(min_chars=0, max_chars=2))
    assert f("") == "length.empty"
    assert f("a") is None and f("abc") == "length.too_long"


def test_min_equals_max():
    f = LengthFilter(LengthConfig(min_chars=4, max_chars=4))
    assert [f("abc"), f("abcd"), f("abcde")] == ["length.too_short", None, "length.too_long"]
