"""PII redaction: emails, phone numbers, IP addresses, card numbers, IBANs and secrets.

Each type is a finder yielding spans (`pii_ip`, `pii_phone`, `pii_money`, `pii_secret`), run in priority
order: a secret can contain what looks like an e-mail or a number, an IBAN's digits look like a card's, a
version's like an address. A span overlapping one an earlier finder claimed is skipped, and finders also
claim what they refuse (a mistyped IBAN, a version number) so that no later finder takes it for something
else. Libraries do the judging where one exists: `phonenumbers` for phone numbers, python-stdnum for IBANs
and the Luhn check, `ipaddress` for addresses. E-mail is a regex (Unicode letters allowed, so `josé@exemple.fr`
and `用户@例子.广告` are found): validators such as email-validator parse one given address, not running text.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stdnum.luhn import is_valid as _luhn_is_valid

from auralith.config.quality import PII_TYPES, PIIConfig
from auralith.steps.pii_ip import find_ips, find_versions
from auralith.steps.pii_money import find_cards, find_ibans, iban_valid
from auralith.steps.pii_phone import find_phones
from auralith.steps.pii_secret import find_secrets

TAGS = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "secret": "<SECRET>",
}

# Local part and domain labels of letters and digits in any script (`[^\W_]`); the top-level domain is
# letters only (`.de`, `.рф`, `.广告`) or punycode (`.xn--p1ai`).
# Combining marks are not `\w` in Python's re, but Indic and Thai words need them (`अजय@डाटा.भारत`).
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0900-\u0dff\u0e00-\u0eff"
EMAIL_RE = re.compile(
    rf"(?<![\w.+-])[^\W_](?:[\w{_MARKS}.%+-]{{0,63}})@(?:[^\W_](?:[\w{_MARKS}-]{{0,61}}(?:[^\W_]|[{_MARKS}]))?\.)+"
    rf"(?:[^\W\d_][\w{_MARKS}]{{1,23}}|xn--[a-z0-9-]{{2,59}})(?![\w{_MARKS}-])"
)

Span = tuple[int, int, bool]  # start, end, is PII (False: claimed, so no later finder reads it, but kept)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    return bool(_luhn_is_valid(digits))


def _find_emails(text: str) -> Iterator[Span]:
    if "@" not in text:
        return
    for m in EMAIL_RE.finditer(text):
        yield m.start(), m.end(), True


@dataclass(frozen=True)
class _Finder:
    kind: str
    find: Callable[[str], Iterator[Span]]


class PIIRedactor:
    """Finds PII by type and applies each type's configured action; counts what it found per type."""

    def __init__(self, cfg: PIIConfig):
        self.cfg = cfg
        self.salt = cfg.salt.encode()
        self.counts: Counter[str] = Counter()
        public, regions = cfg.only_public_ips, tuple(cfg.phone_regions)
        finders = [
            _Finder("secret", find_secrets),
            _Finder("email", _find_emails),
            _Finder("version", find_versions),  # claims only: no later finder reads a version's digits
            _Finder("iban", find_ibans),
            _Finder("credit_card", find_cards),
            _Finder("ip", lambda t: find_ips(t, public)),
            _Finder("phone", lambda t: find_phones(t, regions)),
        ]
        actions = cfg.replace
        self.finders = [f for f in finders if f.kind == "version" or getattr(actions, f.kind) != "off"]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every PII span as (start, end, type), in text order, none overlapping."""
        claimed: list[tuple[int, int]] = []
        found: list[tuple[int, int, str]] = []
        for f in self.finders:
            for start, end, is_pii in f.find(text):
                if any(start < e and s < end for s, e in claimed):
                    continue
                claimed.append((start, end))
                if is_pii:
                    found.append((start, end, f.kind))
        return sorted(found)

    def _replacement(self, kind: str, value: str) -> str:
        action = getattr(self.cfg.replace, kind)
        if action == "tag":
            return TAGS[kind]
        if action == "hash":
            digest = hashlib.blake2b(value.encode(), key=self.salt, digest_size=4).hexdigest()
            return f"{TAGS[kind][:-1]}:{digest}>"
        return value  # keep, or drop (decided by the caller)

    def __call__(self, text: str) -> tuple[str, str | None]:
        """(redacted text, None), or (the text as given, `pii.<type>`) when a type set to `drop` is found."""
        spans = self.find(text)
        if not spans:
            return text, None
        self.counts.update(kind for _, _, kind in spans)
        kinds = {kind for _, _, kind in spans}
        for f in self.finders:  # the first type set to drop, in priority order, names the reason
            if f.kind in kinds and getattr(self.cfg.replace, f.kind) == "drop":
                return text, f"pii.{f.kind}"
        out, pos = [], 0
        for start, end, kind in spans:
            out.append(text[pos:start])
            out.append(self._replacement(kind, text[start:end]))
            pos = end
        out.append(text[pos:])
        return "".join(out), None


__all__ = ["PIIRedactor", "PII_TYPES", "TAGS", "iban_valid", "luhn_valid"]
