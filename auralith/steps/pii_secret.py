"""Secrets: private key blocks, cloud and SaaS tokens by their documented prefixes, and bare AWS secret keys.

Written here rather than with detect-secrets: that library scans line by line through every plugin
(entropy and keyword ones included, which flag most hex hashes in technical text), returns values rather
than spans, and is far slower than one compiled pattern at corpus scale. The prefixes are the ones the
providers document for their token formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# (substrings one of which the text must hold, pattern): each pattern runs only on texts holding its hint, so
# a document without any pays for a few substring tests, not a scan per alternative.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (hints, re.compile(pattern))
    for hints, pattern in (
        (
            ("PRIVATE KEY",),
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        ),
        (("AKIA", "ASIA", "ABIA", "ACCA"), r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),  # AWS access key id
        (  # AWS secret key in a config line
            ("ecret_access_key", "ECRET_ACCESS_KEY", "ecretAccessKey", "ecretaccesskey"),
            r"(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b",
        ),
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),  # GitHub tokens
        (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{50,255}\b"),
        (("glpat-",), r"\bglpat-[A-Za-z0-9_-]{20,}"),  # GitLab personal access tokens
        (("xox",), r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),  # Slack bot/user tokens
        (("xapp-",), r"\bxapp-\d-[A-Za-z0-9-]{20,}"),  # Slack app tokens
        (("hooks.slack.com",), r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}"),
        (("AIza",), r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
        (("k_live_", "k_test_"), r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,}\b"),  # Stripe secret keys
        (("whsec_",), r"\bwhsec_[0-9A-Za-z]{24,}\b"),  # Stripe webhook secrets
        (("sk-",), r"\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{32,}\b"),  # OpenAI / Anthropic keys
        (("hf_",), r"\bhf_[A-Za-z]{34}\b"),  # Hugging Face tokens
        (("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),  # npm tokens
        (("pypi-AgEI",), r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),  # PyPI upload tokens
        (("SG.",), r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),  # SendGrid
        (("shpat_", "shpss_", "shpca_", "shppa_"), r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"),  # Shopify
        (("dop_v1_",), r"\bdop_v1_[a-f0-9]{64}\b"),  # DigitalOcean
        (("eyJ",), r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # JSON web tokens
    )
)
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# A secret access key is 40 characters of base64; the three classes it always mixes tell it from a SHA-1
# (hex) or a word.
_BARE_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_NEAR = 300  # characters: "access key AKIA... and secret ..." in the same paragraph


def _mixed(s: str) -> bool:
    return any(c.islower() for c in s) and any(c.isupper() for c in s) and any(c.isdigit() or c in "/+" for c in s)


def find_secrets(text: str) -> Iterator[tuple[int, int, bool]]:
    for hints, pattern in _PATTERNS:
        if any(h in text for h in hints):
            for m in pattern.finditer(text):
                yield m.start(), m.end(), True
    if "AKIA" not in text and "ASIA" not in text:
        return
    # A bare secret key in prose or a table, next to the access key id it belongs to.
    for key in _ACCESS_KEY_ID.finditer(text):
        lo, hi = max(0, key.start() - _NEAR), min(len(text), key.end() + _NEAR)
        for m in _BARE_SECRET.finditer(text, lo, hi):
            if _mixed(m.group()):
                yield m.start(), m.end(), True
