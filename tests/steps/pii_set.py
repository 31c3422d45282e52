"""A labelled PII set built at test time: positives per type and hard negatives, from real text where possible.

    from tests.steps.pii_set import build_cases, score
    cases = build_cases()            # [Case(text, kind, span, source)]
    table = score(cases, redact)     # {type: (tp, fp, fn)}; redact(text) -> text with <EMAIL>, <IP_ADDRESS>... tags

Real text from this machine, read at run time (nothing shipped): Debian `Packages` indexes (apt's lists and
dpkg's status file) and `changelog.Debian` files give the version strings, dependency constraints and
`+0100` timestamps (hard negatives for IP and phone) and real maintainer e-mail addresses in their sign-off
lines (positives, span known from the `<...>`). Values no real text may be copied for (phone, card, IBAN,
token) are generated in their real formats by the libraries that validate them (phonenumbers' example
numbers, stdnum's check digits) and set in real sentences from the demo corpus the repository ships (Python
standard library docstrings, examples/data), with their own random generator: the generated cases are the same
on every machine, whatever its files (the context a value lands in decides some refusals: `Release 207.1...`
is a version). Where a file is missing the Debian part is smaller, never different in kind: the built-in cases
of tests/steps/pii_cases.py are always in it.
"""

from __future__ import annotations

import glob
import gzip
import ipaddress
import json
import random
import re
import shutil
import string
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.steps.pii_cases import NEGATIVES, POSITIVES

_DEMO_CORPUS = Path(__file__).resolve().parents[2] / "examples" / "data" / "stdlib-a.jsonl"

TAGS = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "secret": "<SECRET>",
}
TYPES = tuple(TAGS)
_TAG_RE = re.compile("|".join(re.escape(t) for t in TAGS.values()))
_KIND_OF_TAG = {v: k for k, v in TAGS.items()}


@dataclass(frozen=True)
class Case:
    text: str
    kind: str | None  # the PII type of `spans`, None for a hard negative
    spans: tuple[str, ...]
    source: str  # where the text came from: "packages", "changelog", "generated", "cases"


def _packages_text(limit: int) -> str:
    """Real Debian Packages stanzas: dpkg's status file, then apt's (lz4-compressed) lists."""
    parts = []
    status = Path("/var/lib/dpkg/status")
    if status.exists():
        parts.append(status.read_text(errors="replace")[:limit])
    lz4 = shutil.which("lz4")
    for path in sorted(glob.glob("/var/lib/apt/lists/*_Packages.lz4"), key=lambda p: Path(p).stat().st_size):
        if lz4 is None or sum(map(len, parts)) >= 2 * limit:
            break
        with subprocess.Popen([lz4, "-dc", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            out = proc.stdout.read(limit)  # the first `limit` bytes only: the full index is 50 MB
            proc.kill()
        parts.append(out.decode("utf-8", "replace"))
    for path in sorted(glob.glob("/var/lib/apt/lists/*_Packages")):
        parts.append(Path(path).read_text(errors="replace")[:limit])
    return "\n".join(parts)


def _changelogs(n: int) -> list[str]:
    out = []
    for path in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz"))[:n]:
        try:
            out.append(gzip.open(path).read().decode("utf-8", "replace"))
        except OSError:
            continue
    return out


def _prose_sentences(n: int, rng: random.Random) -> list[str]:
    """Plain sentences from the demo corpus's docstrings (shipped in the repository), to carry generated values."""
    found: list[str] = []
    with open(_DEMO_CORPUS, encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)):
                if 40 <= len(s) <= 160 and re.fullmatch(r"[A-Z][A-Za-z ,;'()-]+[.!?]", s):
                    found.append(s)
    rng.shuffle(found)
    return found[:n]


_DOTTED = re.compile(r"(?<![\w.])\d+(?:\.\d+){3}")
_VERSIONISH = re.compile(r"\d+:\d|\d+(?:\.\d+)+(?:[+~-][\w.+~-]*)?")


def _version_lines(text: str, limit: int, rng: random.Random) -> list[str]:
    lines = [ln for ln in text.splitlines() if _DOTTED.search(ln) and len(ln) < 400]
    rng.shuffle(lines)
    return lines[:limit]


def _random_token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    from stdnum import luhn

    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def _group(digits: str, sizes: Iterable[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(digits[i : i + s])
        i += s
    return sep.join(out)


_IBAN_TEMPLATES = {  # country: BBAN shape, `9` a digit, `A` a capital (ISO 13616 registry)
    "DE": "999999999999999999",
    "GB": "AAAA99999999999999",
    "NL": "AAAA9999999999",
    "AT": "9999999999999999",
    "CH": "99999999999999999",
    "PL": "999999999999999999999999",
    "IE": "AAAA99999999999999",
    "DK": "99999999999999",
    "LU": "9999999999999999",
    "SE": "99999999999999999999",
}


def _iban(country: str, rng: random.Random) -> str:
    from stdnum import iban

    for _ in range(200):
        bban = "".join(
            rng.choice(string.digits if c == "9" else string.ascii_uppercase) for c in _IBAN_TEMPLATES[country]
        )
        number = country + iban.calc_check_digits(country + "00" + bban) + bban
        if iban.is_valid(number):
            return number
    raise RuntimeError(f"no valid IBAN generated for {country}")


def _spaced(s: str) -> str:
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4))


PHONE_REGIONS_NATIONAL = ("US", "GB", "DE", "FR", "BR", "IN")
PHONE_REGIONS_INTERNATIONAL = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "IT", "ES", "AU", "MX", "NL", "PL")
_IDN_EMAILS = [
    "josé.garcía@ejemplo.es",
    "müller@beispiel.de",
    "pelé@exemple.fr",
    "用户@例子.广告",
    "почта@пример.рф",
    "δοκιμή@παράδειγμα.δοκιμή",
    "info@bücher.de",
    "søren@eksempel.dk",
    "dvořák@příklad.cz",
    "अजय@डाटा.भारत",
]


def _generated(rng: random.Random, sentences: list[str]) -> list[Case]:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    cases: list[Case] = []

    def put(value: str, kind: str | None, lead: str = "") -> None:
        s = rng.choice(sentences)
        cut = s.rfind(" ", 0, len(s) // 2) + 1
        text = f"{s[:cut]}{lead}{value} {s[cut:]}" if cut else f"{lead}{value} {s}"
        cases.append(Case(text, kind, (value,) if kind else (), "generated"))

    # Phones: the libraries' example numbers, in national format for some regions, international for more.
    for region in PHONE_REGIONS_INTERNATIONAL:
        for ptype in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            num = phonenumbers.example_number_for_type(region, ptype)
            if num is None:
                continue
            put(phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL), "phone", "call ")
            if region in PHONE_REGIONS_NATIONAL:
                put(phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL), "phone", "phone ")
    for lead, value in [("Ruf an: ", "030 1234567"), ("Appelez le ", "01 23 45 67 89"), ("Ligue ", "(11) 91234-5678")]:
        put(value, "phone", lead)
    # Timestamps: the `+0100` of git and mail dates is not a phone number.
    for _ in range(20):
        h, m, s, d = rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(1, 28)
        tz = rng.choice(["+0100", "+0200", "-0500", "+0530", "+1000"])
        put(f"Sun Jan {d} {h:02}:{m:02}:{s:02} {tz} 20{rng.randrange(0, 25):02}", None, "Date: ")
        put(f"Mon, {d:02} Mar 2014 {h:02}:{m:02}:{s:02} {tz}", None, "Date: ")

    # IPs: global addresses from the whole space, some after a word that says what they are.
    for i in range(60):
        while True:
            addr = ipaddress.IPv4Address(rng.getrandbits(32))
            if addr.is_global and not addr.is_multicast:
                break
        put(str(addr), "ip", rng.choice(["", "from ", "client ", "host ", "IP ", "to "]) if i % 2 else "")
    for _ in range(10):
        addr6 = ipaddress.IPv6Address((0x2A00 << 112) | rng.getrandbits(100))
        put(addr6.compressed, "ip", "peer ")
    for value in ["8.8.8.8", "1.1.1.1", "8.8.4.4", "9.9.9.9"]:
        put(value, "ip")
    for value in ["C11 7.21.6.2", "C99 6.5.2.2", "RFC 3986 section 3.2.2.1", "libxi6 (>= 2:1.5.99.2)"]:
        put(value, None)

    # Cards: Luhn-complete numbers under real issuer prefixes, grouped as printed.
    for prefix, length, sizes in [("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("37", 15, (4, 6, 5))]:
        for sep in (" ", "-", ""):
            for _ in range(4):
                put(_group(_luhn_complete(prefix, length, rng), sizes, sep), "credit_card", "card ")
    for _ in range(12):  # Luhn-valid digits under no issuer's prefix; Visa-shaped Luhn failures
        put(_luhn_complete(rng.choice("1789"), 16, rng), None, "order ")
        bad = _luhn_complete("4", 16, rng)
        put(bad[:-1] + str((int(bad[-1]) + 1) % 10), None, "ref ")

    # IBANs: valid ones for ten countries, spaced and compact; one digit changed makes a hard negative.
    for country in _IBAN_TEMPLATES:
        for _ in range(3):
            good = _iban(country, rng)
            put(_spaced(good) if rng.random() < 0.5 else good, "iban", "IBAN ")
            pos = rng.randrange(4, len(good))
            if good[pos].isdigit():
                bad = good[:pos] + str((int(good[pos]) + 1) % 10) + good[pos + 1 :]
                put(_spaced(bad), None, "IBAN ")

    # Secrets: the documented token shapes with random bodies; a bare AWS key pair in prose.
    az = string.ascii_letters + string.digits
    for _ in range(3):
        put("ghp_" + _random_token(rng, 36), "secret", "token ")
        put("xoxb-" + _random_token(rng, 11, string.digits) + "-" + _random_token(rng, 24), "secret")
        put("sk_live_" + _random_token(rng, 24), "secret")
        put("glpat-" + _random_token(rng, 20), "secret")
        put("hf_" + _random_token(rng, 34, string.ascii_letters), "secret")
        put("AKIA" + _random_token(rng, 16, string.ascii_uppercase + string.digits), "secret")
    for _ in range(6):
        key_id = "AKIA" + _random_token(rng, 16, string.ascii_uppercase + string.digits)
        secret = _random_token(rng, 38, az + "/+") + rng.choice("/+") + rng.choice(string.digits)
        text = f"Use the access key {key_id} with the secret {secret} for the upload."
        cases.append(Case(text, "secret", (key_id, secret), "generated"))
        cases.append(Case(text.replace(key_id, "AKIA-the-id"), None, (), "generated"))  # no id: no secret
        cases.append(Case(f"Keys: {key_id} / {secret}", "secret", (key_id, secret), "generated"))
    for _ in range(6):  # hex hashes next to a key id are not secrets
        sha = _random_token(rng, 40, "0123456789abcdef")
        cases.append(Case(f"commit {sha} rotated the key", None, (), "generated"))

    # E-mail: internationalised addresses.
    for value in _IDN_EMAILS:
        put(value, "email", "mail ")
    return cases


_SIGNOFF = re.compile(r"^ -- [^<\n]+<([^>\n]+@[^>\n]+)>  .+$", re.MULTILINE)


def build_cases(seed: int = 0, real_lines: int = 300) -> list[Case]:
    rng = random.Random(seed)
    cases = [Case(t, k, (s,), "cases") for t, k, s in POSITIVES]
    cases += [Case(t, None, (), "cases") for t in NEGATIVES]
    # Real version strings: dotted quads in Packages stanzas and changelogs are versions (all were checked by
    # hand on this machine's files: bench/pii.py lists any that a finder takes).
    cases += [Case(ln, None, (), "packages") for ln in _version_lines(_packages_text(4_000_000), real_lines, rng)]
    logs = _changelogs(400)
    cases += [Case(ln, None, (), "changelog") for ln in _version_lines("\n".join(logs), real_lines, rng)]
    # Real sign-off lines: a maintainer's address (positive) beside a `+0100` timestamp (not a phone).
    signoffs = [m.group() for log in logs for m in _SIGNOFF.finditer(log)]
    rng.shuffle(signoffs)
    for line in signoffs[: real_lines // 3]:
        addr = _SIGNOFF.match(line).group(1)  # type: ignore[union-attr]
        if addr.count("@") == 1 and re.fullmatch(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", addr):
            cases.append(Case(line, "email", (addr,), "changelog"))
    generated = random.Random(seed + 1)  # not the Debian part's: that one draws as many times as files hold lines
    cases += _generated(generated, _prose_sentences(400, generated))
    return cases


def score(cases: Iterable[Case], redact: Callable[[str], str], kinds: Iterable[str] = TYPES) -> dict[str, list[int]]:
    """{type: [tp, fp, fn]}. A positive case is a true positive when exactly its spans became its type's tag; every
    other tag in an output is a false positive of the tag's type."""
    table = {k: [0, 0, 0] for k in kinds}
    for case in cases:
        out = redact(case.text)
        tags = [_KIND_OF_TAG[t] for t in _TAG_RE.findall(out)]
        expected = case.text
        for span in case.spans:
            expected = expected.replace(span, TAGS[case.kind or ""], 1)
        hit = case.kind is not None and out == expected
        if case.kind in table:
            table[case.kind][0 if hit else 2] += 1
        if hit:
            for _ in case.spans:
                tags.remove(case.kind)  # type: ignore[arg-type]
        for t in tags:
            if t in table:
                table[t][1] += 1
    return table


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)
