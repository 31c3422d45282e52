"""IP addresses vs version, revision and section numbers (the shapes issue 19 measured on real Debian text)."""

from __future__ import annotations

import pytest

from auralith.config.quality import PIIConfig
from auralith.steps.pii import PIIRedactor

VERSIONS = [
    "Version: 1:2.3.19.1+dfsg1",
    "Depends: libc6 (>= 2.34), libxi6 (>= 2:1.5.99.2)",
    "Source: mono (6.8.0.105+dfsg-3.3)",
    "  * acinclude.m4 (1.29.2.1): fix the quoting",
    "as in C11 7.21.6.2, the conversion stops",
    "Version: 0.9.14.318+ds-4",
    "chromium (138.0.7204.168-1~deb12u1) bookworm-security; urgency=high",
    "xorg (1.2.99.4) unstable; urgency=low",
    "  * Update from 1.2.99.2 to 1.2.99.4",
    "  * Bump x11proto-input-dev build-dep to 2.2.99.1.",
    "Declare compliance with Debian Policy 4.4.1.1 (No changes needed)",
    "  * New upstream release 4.3.99.16~rc2",
    "Git 1.7.12.4 Release Notes",
    "patch V8 to 11.8.172.15",
    "see 11.3.3.2 and 11.3.3.5 of the PNG spec",
    "2.2.1.1. Unix platforms",
    "requests==2.31.0.1 and pkg-1.2.3.4.tar.gz",
]


@pytest.mark.parametrize("text", VERSIONS)
def test_versions_are_not_addresses(text):
    red = PIIRedactor(PIIConfig())
    assert red(text) == (text, None)
    assert red.counts == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping 8.8.8.8 and 1.1.1.1", "ping <IP_ADDRESS> and <IP_ADDRESS>"),
        ("Use DNS resolver at 8.8.8.8 in tor-mode.", "Use DNS resolver at <IP_ADDRESS> in tor-mode."),
        ("host 4.211.104.41 answered", "host <IP_ADDRESS> answered"),  # a version's shape, but after `host`
        ("Received: from x ([129.22.8.219])", "Received: from x ([<IP_ADDRESS>])"),
        ("(such as 18.30.0.212).", "(such as <IP_ADDRESS>)."),
        ("tcp/18.30.0.212:7890", "tcp/<IP_ADDRESS>:7890"),
        ("peer 2a00:1450:4001:81b::200e up", "peer <IP_ADDRESS> up"),
        ("net 52.14.201.0/24", "net <IP_ADDRESS>/24"),
    ],
)
def test_addresses_are_found(text, expected):
    assert PIIRedactor(PIIConfig())(text) == (expected, None)
