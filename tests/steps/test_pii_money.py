"""IBANs by stdnum (checksum and country format), cards by Luhn and issuer ranges."""

from __future__ import annotations

import pytest

from auralith.config.quality import PIIConfig
from auralith.steps.pii import PIIRedactor
from auralith.steps.pii_money import card_valid, issuer_known


def test_wrong_checksum_iban_is_neither_iban_nor_card():
    red = PIIRedactor(PIIConfig())
    text = "Pay to DE89 3704 0044 0532 0130 01 by Monday."  # last digit changed
    assert red(text) == (text, None)
    assert red.counts == {}
    assert red("Pay to DE89 3704 0044 0532 0130 00 by Monday.")[0] == "Pay to <IBAN> by Monday."


def test_iban_followed_by_a_capitalised_word():
    assert PIIRedactor(PIIConfig())("IBAN DE89370400440532013000 DATE 2024")[0] == "IBAN <IBAN> DATE 2024"


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4111111111111111", True),  # Visa
        ("5555555555554444", True),  # Mastercard
        ("2223003122003222", True),  # Mastercard 2-series
        ("378282246310005", True),  # Amex
        ("6011111111111117", True),  # Discover
        ("3530111333300000", True),  # JCB
        ("4111111111111112", False),  # Luhn
        ("1234567812345670", False),  # Luhn-valid, no issuer
        ("37828224631000", False),  # Amex prefix, wrong length
    ],
)
def test_card_issuers_and_luhn(digits, ok):
    assert card_valid(digits) is ok


def test_issuer_lengths():
    assert issuer_known("4" * 13) and not issuer_known("4" * 14)
