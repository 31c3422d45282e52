"""Phone numbers by phonenumbers, per configured region; timestamps and clause numbers left alone."""

from __future__ import annotations

import pytest

from auralith.config.quality import PIIConfig
from auralith.steps.pii import PIIRedactor


@pytest.mark.parametrize(
    ("text", "region", "number"),
    [
        ("Ruf an: 030 1234567 bitte", "DE", "030 1234567"),
        ("Appelez le 01 23 45 67 89.", "FR", "01 23 45 67 89"),
        ("Ligue (11) 91234-5678 agora", "BR", "(11) 91234-5678"),
        ("Call 020 7946 0958 today", "GB", "020 7946 0958"),
        ("Text 212-555-0187 to confirm.", "US", "212-555-0187"),
    ],
)
def test_national_formats_need_their_region(text, region, number):
    found = PIIRedactor(PIIConfig(phone_regions=[region]))(text)[0]
    assert found == text.replace(number, "<PHONE>")
    other = "US" if region != "US" else "DE"
    assert PIIRedactor(PIIConfig(phone_regions=[other]))(text)[0] == text


def test_international_numbers_need_no_region():
    red = PIIRedactor(PIIConfig(phone_regions=[]))
    assert red("Tokyo desk +81 3-1234-5678.")[0] == "Tokyo desk <PHONE>."
    assert red("Berlin: +49 (0)30 1234567")[0] == "Berlin: <PHONE>"


@pytest.mark.parametrize(
    "text",
    [
        "Date: Sun Jan 24 00:34:32 +0100 2010",
        " -- Jane Roe <jroe@debian.org>  Sun, 24 Jan 2010 00:34:32 +0100",
        "Restricted Rights as defined in Clause 252.227-7013 (c) (1).",
        "ref 4993470221874735 Galera",  # a long number that starts like +49
        "Version: 0.9.14.318+ds-4",
        "Installed-Size: 1234567",
    ],
)
def test_not_phone_numbers(text):
    red = PIIRedactor(PIIConfig(phone_regions=["US", "GB", "DE", "FR", "IN", "BR", "JP"], replace={"email": "off"}))
    assert red(text) == (text, None)


def test_unknown_region_is_a_config_error():
    with pytest.raises(ValueError, match="unknown region"):
        PIIConfig(phone_regions=["XX"])
