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

# A stretch that may hold a number: at least seven digits with separators between, not inside a word or a
# hex hash. The matcher is pure Python, so it reads only these stretches (and a little context around them),
# never a whole document.
_CANDIDATE = re.compile(r"(?<![\w.#])(?<!\w-)[+(]?\d(?:[ \t().\-/]{0,3}\d){6,}\)?(?!\w)")
_CONTEXT = 16
_ZIP4 = re.compile(r"\d{5}-\d{4}")
_TIME_BEFORE = {f"{d}:" for d in "0123456789"}
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d\d|(?:19|20)\d\d[./-]\d{1,2}[./-]\d{1,2}")
_SEPARATORS = re.compile(r"[^\d()+]+")


def _plausible(raw: str, number: phonenumbers.PhoneNumber) -> bool:
    """A national number keeps one separator throughout after its bracketed area code: `(11) 91234-5678`,
    `030 1234567`; `252.227-7013` is a regulation clause the US plan would accept. A country code without
    `+` or `00` (`4993470221874735`, read as German) is a long number, not a phone's."""
    if raw.startswith("+"):
        return True
    if _ZIP4.fullmatch(raw):
        return False  # a US ZIP+4 code ("Boston, MA 02110-1335")
    if raw.startswith("(") and ")" not in raw:
        return False  # "(20200710-15": a bracket that opens a version, not an area code
    digits = re.sub(r"\D", "", raw)
    if digits == raw and (not raw.startswith("0") or len(digits) < 9):
        return False  # "20141201", "version 0284207": unseparated national numbers have a trunk 0 and 9+ digits
    if "." in raw and any(len(g) < 2 for g in re.findall(r"\d+", raw)):
        return False  # "0.20151231": dotted phone numbers group their digits in twos or more (01.23.45.67.89)
    cc = str(number.country_code)
    if len(digits) > 15 or (cc != "1" and digits == cc + str(number.national_number)):
        return False
    rest = raw.partition(")")[2] if raw.startswith("(") and ")" in raw else raw
    return len(set(_SEPARATORS.findall(rest.strip()))) <= 1


def _bounded(text: str, start: int, end: int) -> bool:
    """A number stands alone: not part of a file name, version or identifier (`axiom_20170501-12_amd64.deb`,
    `2.0~20170911`, `02-687535-fix-missing-ldflags`), which the matcher alone accepts."""
    before = text[start - 1] if start else " "
    if before.isalnum() or before in "_~+-./#=@\\":
        return False
    if end < len(text):
        after = text[end]
        if after.isalnum() or after in "_~+@" or (after in ".-/" and text[end + 1 : end + 2].isalnum()):
            return False
    # A column of a numeric table ("1412881037 912698 3005"): another number just before or after, on the line.
    head, tail = text[max(0, start - 8) : start].rstrip(" \t"), text[end : end + 8].lstrip(" \t")
    return not (head[-1:].isdigit() or tail[:1].isdigit())


def find_phones(text: str, regions: Sequence[str]) -> Iterator[tuple[int, int, bool]]:
    """(start, end, True) for each valid number; a number valid in several regions is yielded once per region
    (the redactor keeps the first of overlapping spans)."""
    windows: list[list[int]] = []
    for cand in _CANDIDATE.finditer(text):
        lo, hi = max(0, cand.start() - _CONTEXT), min(len(text), cand.end() + _CONTEXT)
        # Start and end on a space, so the matcher never sees half a word or half a hash.
        while lo > 0 and not text[lo - 1].isspace() and cand.start() - lo < 2 * _CONTEXT:
            lo -= 1
        while hi < len(text) and not text[hi].isspace() and hi - cand.end() < 2 * _CONTEXT:
            hi += 1
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    # "ZZ" (unknown region) still finds every +CC number.
    for lo, hi in windows:
        window = text[lo:hi]
        for region in regions or ("ZZ",):
            for found in PhoneNumberMatcher(window, region, leniency=Leniency.VALID):
                start = lo + found.start
                # "21:21:04 -0500 2013": a clock's seconds, a time zone and a year, whatever a plan accepts; a
                # number after a sign is not a national phone number (an international one includes its `+`).
                before = text[max(0, start - 2) : start]
                if before in _TIME_BEFORE or before[-1:] in ("+", "-") or _DATE.fullmatch(found.raw_string):
                    continue
                if not _bounded(text, start, lo + found.end):
                    continue
                if _plausible(found.raw_string, found.number):
                    yield start, lo + found.end, True
