"""Phone numbers, found and validated by `phonenumbers` (Google's libphonenumber) for a list of regions.

`PhoneNumberMatcher` finds numbers in running text and, at `Leniency.VALID`, keeps only those whose
length and prefixes the region's numbering plan allows: `+44 20 7946 0958` from anywhere, `030 1234567` as a
German number, `01 23 45 67 89` as a French one. A timestamp's `+0100` has no country code 0, so it never is
one. Numbers written with a leading `+` are found whatever the regions; national formats only for the
regions listed (`preprocessing.pii.phone_regions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

# At least seven digits close together: the matcher is pure Python, so most documents skip it.
_HINT = re.compile(r"\d(?:[ \t().\-/]{0,3}\d){6}")
_SEPARATORS = re.compile(r"[^\d()+]+")


def _plausible(raw: str, number: phonenumbers.PhoneNumber) -> bool:
    """A national number keeps one separator throughout after its bracketed area code: `(11) 91234-5678`,
    `030 1234567`; `252.227-7013` is a regulation clause the US plan would accept. A country code without
    `+` or `00` (`4993470221874735`, read as German) is a long number, not a phone's."""
    if raw.startswith("+"):
        return True
    digits = re.sub(r"\D", "", raw)
    cc = str(number.country_code)
    if len(digits) > 15 or (cc != "1" and digits == cc + str(number.national_number)):
        return False
    rest = raw.partition(")")[2] if raw.startswith("(") and ")" in raw else raw
    return len(set(_SEPARATORS.findall(rest.strip()))) <= 1


def find_phones(text: str, regions: Sequence[str]) -> Iterator[tuple[int, int, bool]]:
    """(start, end, True) for each valid number; a number valid in several regions is yielded once per region
    (the redactor keeps the first of overlapping spans)."""
    if not _HINT.search(text):
        return
    # "ZZ" (unknown region) still finds every +CC number.
    for region in regions or ("ZZ",):
        for m in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            if _plausible(m.raw_string, m.number):
                yield m.start, m.end, True


def supported_region(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS
