"""IBANs and payment card numbers.

IBANs are validated by python-stdnum (the ISO 13616 registry's length and format per country, the mod-97
check, and the national check digits it knows). Every IBAN-shaped string is claimed, valid or not, so the
digits of a mistyped IBAN never become a card number. Cards: stdnum's Luhn check plus the issuers' number
ranges and lengths (no library on PyPI keeps an IIN table that is maintained; this is the published one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban as stdnum_iban
from stdnum import luhn

IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# Digits only, or groups of four with one separator (`4111 1111 1111 1111`), or Amex/Diners 4-6-5/4-6-4.
CARD_RE = re.compile(
    r"(?<![\w./+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|[.,]\d)"
)
# (first digits low, high, lengths): Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir.
_ISSUERS: tuple[tuple[str, str, range], ...] = (
    ("4", "4", range(13, 20, 3)),
    ("51", "55", range(16, 17)),
    ("2221", "2720", range(16, 17)),
    ("34", "34", range(15, 16)),
    ("37", "37", range(15, 16)),
    ("6011", "6011", range(16, 20)),
    ("644", "649", range(16, 20)),
    ("65", "65", range(16, 20)),
    ("3528", "3589", range(16, 20)),
    ("300", "305", range(14, 20)),
    ("36", "36", range(14, 20)),
    ("38", "39", range(16, 20)),
    ("62", "62", range(16, 20)),
    ("5018", "5018", range(12, 20)),
    ("5020", "5020", range(12, 20)),
    ("5038", "5038", range(12, 20)),
    ("5893", "5893", range(12, 20)),
    ("6304", "6304", range(12, 20)),
    ("6759", "6759", range(12, 20)),
    ("6761", "6763", range(12, 20)),
    ("2200", "2204", range(16, 20)),
)


def issuer_known(digits: str) -> bool:
    """Whether some card issuer gives out numbers with these first digits and this length."""
    return any(lo <= digits[: len(lo)] <= hi and len(digits) in lengths for lo, hi, lengths in _ISSUERS)


def card_valid(digits: str) -> bool:
    return issuer_known(digits) and luhn.is_valid(digits)


def iban_valid(candidate: str) -> bool:
    return bool(stdnum_iban.is_valid(candidate.replace(" ", "")))


def find_ibans(text: str) -> Iterator[tuple[int, int, bool]]:
    """Every IBAN shape, as (start, end, valid). A shape that swallowed a following word
    (`...3000 DATE`) is tried without its trailing groups."""
    for m in IBAN_RE.finditer(text):
        start, end = m.span()
        raw = m.group()
        while True:
            if iban_valid(raw):
                yield start, start + len(raw), True
                break
            cut = raw.rfind(" ")
            if cut < 15:
                yield start, end, False
                break
            raw = raw[:cut]


def find_cards(text: str) -> Iterator[tuple[int, int, bool]]:
    for m in CARD_RE.finditer(text):
        if card_valid(re.sub(r"[ -]", "", m.group())):
            yield m.start(), m.end(), True
