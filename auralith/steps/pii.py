"""PII redaction: emails, phone numbers, IP addresses, card numbers, IBANs and secrets.

Hand-written because no library on PyPI does this at corpus speed without a model download (Presidio needs
spaCy models): each type is one compiled regex guarded by a cheap substring test, and the matches a regex
cannot judge are checked in code (Luhn for cards, mod-97 for IBANs, `ipaddress` for IPs, digit counts and
context for phones and version numbers).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from auralith.config.quality import PII_TYPES, PIIConfig

TAGS = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "secret": "<SECRET>",
}

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}\b"
)
# International (+CC ...) or North-American ((555) 555-0100, 555-555-0100) shapes; digits counted below.
PHONE_RE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,6}){1,4}"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[ .-]\d{3}[ .-]\d{4})(?![\w.-]?\d)"
)
IPV4_RE = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w-]|\.\d)"
)
IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
    r"(?![\w:])"
)
# 13 to 19 digits, in groups separated by single spaces or dashes.
CARD_RE = re.compile(r"(?<![\w./-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
SECRET_RE = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b"  # AWS secret in a config line
    r"|\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{50,255}\b"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bAIza[0-9A-Za-z_-]{35}\b"  # Google API keys
    r"|\b[sr]k_(?:live|test)_[0-9A-Za-z]{24,}\b"  # Stripe keys
    r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}\b"  # OpenAI / Anthropic style keys
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JSON web tokens
)
_SECRET_HINTS = (
    "PRIVATE KEY",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "ecret_access_key",
    "ECRET_ACCESS_KEY",
    "ecretAccessKey",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "AIza",
    "k_live_",
    "k_test_",
    "sk-",
    "eyJ",
)
# "version 1.2.3.4", "release 10.0.0.1", "section 4.2.1.3": a dotted quad in such context is not an address
# ("v1.2.3.4" never matches: the address pattern wants no letter before it).
_VERSION_CONTEXT = re.compile(
    r"(?:version|release|ver\.?|v|build|rev|revision|python|firmware|kernel|section|sect?\.|chapter|§|step|rule"
    r"|clause|paragraph|figure|fig\.|table|appendix|oid|changes in|prior to|since)[\s:=]*$",
    re.IGNORECASE,
)
# Words that say a dotted quad is an address, even one that looks like a version (all parts below 10).
_ADDRESS_CONTEXT = re.compile(
    r"(?:ip|address|addr|host|server|client|peer|dns|resolver|connect(?:ed)?(?: to)?|ping)"
    r"[\s:=]*$",
    re.IGNORECASE,
)
# Length of each country's IBAN (ISO 13616 registry), so a random capitalised code is not taken for one.
IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """Country length and ISO 7064 mod-97 check."""
    iban = candidate.replace(" ", "")
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _card_valid(m: re.Match) -> bool:
    digits = re.sub(r"[ -]", "", m.group())
    # Issuer prefixes (Visa 4, Mastercard 51-55 and 22-27, Amex 34/37, Discover 6, JCB 35, Diners 30/36/38)
    # before Luhn: one random digit string in ten passes Luhn alone.
    issuer = digits[0] in "3456" or "22" <= digits[:2] <= "27"
    return issuer and luhn_valid(digits)


def _phone_valid(m: re.Match) -> bool:
    s = m.group()
    digits = sum(ch.isdigit() for ch in s)
    if s.startswith("+"):
        return 8 <= digits <= 15  # E.164: at most 15 digits
    # North American numbers: area code and exchange do not start with 0 or 1, and one separator is used
    # throughout ("252.227-7013" is a regulation clause, not a number).
    d = re.sub(r"\D", "", s)
    rest = s.split(")", 1)[1].lstrip() if s.startswith("(") else s
    return digits == 10 and d[0] not in "01" and d[3] not in "01" and len(set(re.findall(r"\D", rest))) == 1


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern
    hint: Callable[[str], bool]
    valid: Callable[[re.Match], bool] | None = None


class PIIRedactor:
    """Finds PII by type and applies each type's configured action; counts what it found per type."""

    def __init__(self, cfg: PIIConfig):
        self.cfg = cfg
        self.salt = cfg.salt.encode()
        self.counts: Counter[str] = Counter()
        public = cfg.only_public_ips

        def ip_valid(m: re.Match) -> bool:
            try:
                addr = ipaddress.ip_address(m.group())
            except ValueError:
                return False
            if public and (not addr.is_global or addr.is_multicast):  # ffff:...:fff0 is a netmask, not a host
                return False
            if addr.version == 4:
                before = max(0, m.start() - 16)
                if _ADDRESS_CONTEXT.search(m.string, before, m.start()):
                    return True
                # "1.2.0.3" is far likelier a version than an address; so is anything after "version", "OID", ...
                if all(len(part) == 1 for part in m.group().split(".")):
                    return False
                if _VERSION_CONTEXT.search(m.string, before, m.start()):
                    return False
            return True

        def has_digit_run(text: str) -> bool:
            return any(ch in text for ch in "0123456789")

        detectors = [
            # Secrets first: a token can contain what looks like an email or a number.
            _Detector("secret", SECRET_RE, lambda t: any(h in t for h in _SECRET_HINTS)),
            _Detector("email", EMAIL_RE, lambda t: "@" in t),
            _Detector("iban", IBAN_RE, has_digit_run, lambda m: iban_valid(m.group())),
            _Detector("credit_card", CARD_RE, has_digit_run, _card_valid),
            _Detector("ip", IPV6_RE, lambda t: "::" in t or t.count(":") >= 7, ip_valid),
            _Detector("ip", IPV4_RE, lambda t: "." in t, ip_valid),
            _Detector("phone", PHONE_RE, has_digit_run, _phone_valid),
        ]
        actions = cfg.replace
        self.detectors = [d for d in detectors if getattr(actions, d.kind) != "off"]

    def __call__(self, text: str) -> tuple[str, str | None]:
        """(redacted text, None), or (the text as given, `pii.<type>`) when a type set to `drop` is found."""
        given = text
        found: Counter[str] = Counter()
        for det in self.detectors:
            if not det.hint(text):
                continue
            action = getattr(self.cfg.replace, det.kind)
            n = 0

            def replace(m: re.Match, det: _Detector = det, action: str = action) -> str:
                nonlocal n
                if det.valid is not None and not det.valid(m):
                    return m.group()
                n += 1
                if action == "tag":
                    return TAGS[det.kind]
                if action == "hash":
                    digest = hashlib.blake2b(m.group().encode(), key=self.salt, digest_size=4).hexdigest()
                    return f"{TAGS[det.kind][:-1]}:{digest}>"
                return m.group()  # keep, or drop (decided below)

            new = det.pattern.sub(replace, text)
            if n:
                found[det.kind] += n
                if action == "drop":
                    self.counts.update(found)
                    return given, f"pii.{det.kind}"
                text = new
        self.counts.update(found)
        return text, None


__all__ = ["PIIRedactor", "PII_TYPES", "TAGS", "iban_valid", "luhn_valid"]
