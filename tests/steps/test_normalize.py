"""Unicode normal forms and whitespace clean-up."""

from __future__ import annotations

import pytest

from auralith.config.preprocessing import NormalizeConfig
from auralith.steps.normalize import TextNormalizer, normalize_whitespace


def normalizer(unicode: str = "NFC", whitespace: bool = True) -> TextNormalizer:
    return TextNormalizer(NormalizeConfig(unicode=unicode, whitespace=whitespace))


def test_nfc_composes():
    assert normalizer()("cafe\u0301") == "caf\u00e9"
    assert normalizer()("caf\u00e9") == "caf\u00e9"


def test_nfkc_folds_compatibility_characters():
    assert normalizer("NFKC")("\ufb01ne \u2460 cafe\u0301 \uff21") == "fine 1 caf\u00e9 A"
    assert normalizer("NFC")("\ufb01ne \u2460") == "\ufb01ne \u2460"


def test_none_keeps_the_code_points():
    assert normalizer("none")("cafe\u0301  x") == "cafe\u0301 x"
    assert normalizer("none", whitespace=False)(" cafe\u0301 \t\r\n") == " cafe\u0301 \t\r\n"


def test_whitespace_off_only_normalizes_unicode():
    assert normalizer(whitespace=False)(" e\u0301\t\t\n\n\n\n") == " \u00e9\t\t\n\n\n\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a   b", "a b"),
        ("a\t\tb", "a b"),
        ("a\u00a0\u00a0b", "a b"),  # no-break spaces
        ("a \t\u3000\u2009 b", "a b"),  # ideographic and thin spaces in one run
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\r\n\r\n\r\n\r\nb", "a\n\nb"),
        ("a\n\nb", "a\n\nb"),  # a paragraph break survives
        ("a\n\n\nb\n\n\n\n\n\nc", "a\n\nb\n\nc"),
        ("a \n b", "a\nb"),
        ("a \n \n \n b", "a\n\nb"),  # blank lines holding spaces still collapse
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),
        ("  \n\t padded \t\n  ", "padded"),
        ("", ""),
        (" \t\n\r\n ", ""),
    ],
)
def test_normalize_whitespace(text, expected):
    assert normalize_whitespace(text) == expected


def test_idempotent():
    norm = normalizer("NFKC")
    text = " \ufb01  e\u0301\r\n\r\n\r\n\x01x\u00a0 "
    once = norm(text)
    assert once == "fi \u00e9\n\nx"
    assert norm(once) == once
