"""IP addresses that are not versions.

A dotted quad is an IPv4 address to `ipaddress`, but in software text most dotted quads are versions
(`Version: 1:2.3.19.1+dfsg1`, `libxi6 (>= 2:1.5.99.2)`), CVS revisions (`acinclude.m4 (1.29.2.1)`) or section
numbers (`C11 7.21.6.2`). No library tells the two apart (Presidio and datatrove only validate the octets), so
the refusals are written here, each from a shape measured on real Debian `Packages` indexes and
`changelog.Debian` files (bench/pii.py): Debian/semantic version affixes, dependency constraints, changelog
headers, version and section words before the number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

# Not after a letter, digit, dot or a version's separators (`pkg-1.2.3.4`, `1.0+2.3.4.5`); not before a
# version's suffixes (`+dfsg`, `~rc1`, `-3`, `.orig`, `b2`) or a fifth part (`1.3.6.1.4`). A port (`:53`)
# or a CIDR length (`/24`) may follow.
IPV4_RE = re.compile(
    r"(?<![\w.+~-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w+~-]|\.\w)"
)
IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
    r"(?![\w:])"
)
# Words and signs before a dotted quad that make it a version, revision or section number. Matched against
# the text just before the number, on its line.
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:version|versions|release|releases|ver\.?|v|build|rev|revision|python|firmware|kernel|section|"
    r"sect?\.|chapter|§|step|rule|clause|paragraph|figure|fig\.|table|appendix|annex|oid|changes in|prior to|"
    r"since|until|policy|upstream|snapshot|tag|tagged|standards-version|(?:pre-)?depends|recommends|suggests|breaks|"
    r"conflicts|replaces|provides|enhances|built-using|(?:C|C\+\+)\d\d|ISO(?:/IEC)?(?: \d+(?::\d+)?)?|"
    r"RFC ?\d+|POSIX(?:\.\d)?)"
    # "updated to", "bump from ... to", "upgrade to the new 1.2.3.4"
    r"|\b(?:updat|upgrad|bump|downgrad|rebas|sync|merg|packag|import|switch|mov|patch)\w*\b[^\n;]{0,40}?\b(?:to|from|with)"
    r")[\s:=(\"']*$"
    r"|\((?:[<>]=?|<<|>>|=)\s*$|(?:==|~=|!=|>=|<=)\s*$"  # dependency constraints: (>= 1.5.99.2), x>=1.2.3.4
    r"|\d:$",  # a Debian epoch: 2:1.5.99.2
    re.IGNORECASE,
)
# `name (1.29.2.1)`: a file or package name then the number in brackets (CVS revisions, changelog headers,
# Packages' `Source: x (1.2.3.4)`), when the name holds a digit, dot, `_`, `+` or `-`, or is a lower-case name
# opening the line ("string (123.45.67.89)" in prose is an address).
_NAME_PAREN_BEFORE = re.compile(r"(?:^|\s)[\w.+-]*[\d._+-][\w.+-]* \($|^\s*(?:Source:\s*)?[a-z][a-z0-9]* \($")
# A Debian changelog header's tail: `) unstable; urgency=low`.
_CHANGELOG_AFTER = re.compile(r"\)\s+[\w-]+(?:\s+[\w-]+)*;\s*urgency=", re.IGNORECASE)
# Words that say a dotted quad is an address, even one that looks like a version (all parts below 10).
_ADDRESS_BEFORE = re.compile(
    r"\b(?:ip|ipv4|address|addr|host|hostname|server|client|peer|dns|nameserver|resolver|gateway|route|"
    r"connect(?:ed|ion)?(?: to| from)?|ping|from host|via|listen(?:ing)? on|bind|proxy)[\s:=(\"']*$",
    re.IGNORECASE,
)
# A heading's title after its number.
_HEADING_AFTER = re.compile(r"\.?[ \t]+[A-Z][a-z]")
# The public resolvers people write about, though they look like versions.
_RESOLVERS = frozenset({"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "4.2.2.1", "4.2.2.2"})
_WINDOW = 48  # characters of context read before a candidate


def _line_before(text: str, start: int) -> str:
    lo = max(0, start - _WINDOW)
    nl = text.rfind("\n", lo, start)
    return text[(nl + 1 if nl >= 0 else lo) : start]


def ipv4_is_version(text: str, start: int, end: int) -> bool:
    """Whether the dotted quad at text[start:end] reads as a version, revision or section number."""
    before = _line_before(text, start)
    if _ADDRESS_BEFORE.search(before):
        return False
    if _VERSION_BEFORE.search(before) or _NAME_PAREN_BEFORE.search(before):
        return True
    if before.endswith("(") and _CHANGELOG_AFTER.match(text, end):
        return True
    quad = text[start:end]
    if quad in _RESOLVERS:
        return False
    parts = [int(p) for p in quad.split(".")]
    # Versions and section numbers start with a small major number (Git 1.7.12.4, XFree86 4.3.99.16, V8
    # 9.4.146.26) or have only small parts (PNG 11.3.3.2); 1.0.0.0/8 to 9.0.0.0/8 are 3.5% of the address
    # space, quads with every part below 20 under 0.1%, and an address there is written after `ip`, `host`,
    # `server`... (read above).
    if parts[0] < 10 or max(parts) < 20:
        return True
    # A numbered heading: "2.2.1.1. Unix platforms", "7.7.2.2 Old, deprecated interface".
    return not before.strip() and _HEADING_AFTER.match(text, end) is not None
    return False


# Where Debian text says "this is a version" whatever it looks like (`gcc-12 (12-20220428-1) unstable;`,
# `Version: 1:2.3.19.1+dfsg1`, `(>= 2:1.5.99.2)`).
_DEBIAN_VERSION = re.compile(
    r"^[a-z0-9][a-z0-9+.-]* \(([^()\s]+)\) [\w -]+;\s*urgency="
    r"|^(?:Version|Standards-Version): *(\S+)|^Source: *\S+ \(([^()\s]+)\)"
    r"|\((?:[<>]=?|<<|>>|=) *([^()\s]+)\)",
    re.MULTILINE | re.IGNORECASE,
)
# Version strings that are no plain dotted quad (`0.9.14.318+ds-4`, `138.0.7204.168-1~deb12u1`, `2:1.5-3`):
# five or more parts, four with one of 4+ digits (`96.0.4664.110`), an epoch, or a Debian/semantic suffix.
# Claimed so that no phone finder reads their digits.
_VERSION_TOKEN = re.compile(
    r"(?<![\w.+~:-])(?:\d{1,2}:\d+(?:\.\d+)+|(?!0\d)\d+(?:\.\d+){4,}|(?=[\d.]*\d{4})\d+(?:\.\d+){3}"
    r"|\d+(?:\.\d+)+(?=[+~]|-\d))[\w.+~:-]*"
)


def find_ips(text: str, only_public: bool) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is an address) for each IPv6 and dotted-quad candidate; versions are claimed but not PII,
    so no later detector (phone numbers) reads them either."""

    def keep(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        # ffff:...:fff0 is a netmask, not a host; private, loopback, documentation ranges are no one's data.
        return not only_public or (addr.is_global and not addr.is_multicast)

    if "::" in text or text.count(":") >= 7:
        for m in IPV6_RE.finditer(text):
            try:
                addr6 = ipaddress.IPv6Address(m.group())
            except ValueError:
                continue
            yield m.start(), m.end(), keep(addr6)
    if "." in text:
        for m in IPV4_RE.finditer(text):
            if ipv4_is_version(text, m.start(), m.end()):
                yield m.start(), m.end(), False
                continue
            yield m.start(), m.end(), keep(ipaddress.IPv4Address(m.group()))


def find_versions(text: str) -> Iterator[tuple[int, int, bool]]:
    """Version strings, claimed (never PII) so that no finder after this one reads their digits."""
    if "(" in text or "ersion:" in text:
        for m in _DEBIAN_VERSION.finditer(text):
            g = next(i for i in (1, 2, 3, 4) if m.group(i) is not None)
            yield m.start(g), m.end(g), False
    if "." in text or ":" in text:
        for m in _VERSION_TOKEN.finditer(text):
            yield m.start(), m.end(), False
