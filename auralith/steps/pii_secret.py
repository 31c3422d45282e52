"""Secrets: private key blocks, cloud and SaaS tokens by their documented prefixes, and bare AWS secret keys.

Written here rather than with detect-secrets: that library scans line by line through every plugin
(entropy and keyword ones included, which flag most hex hashes in technical text), returns values rather
than spans, and is far slower than one compiled pattern at corpus scale. The prefixes are the ones the
providers document for their token formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

SECRET_RE = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b"  # AWS secret in a config line
    r"|\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{50,255}\b"  # GitHub tokens
    r"|\bglpat-[A-Za-z0-9_-]{20,}"  # GitLab personal access tokens
    r"|\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{20,}"  # Slack bot/user/app tokens
    r"|https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}"  # Slack webhooks
    r"|\bAIza[0-9A-Za-z_-]{35}\b"  # Google API keys
    r"|\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,}\b|\bwhsec_[0-9A-Za-z]{24,}\b"  # Stripe keys, webhook secrets
    r"|\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{32,}\b"  # OpenAI / Anthropic keys
    r"|\bhf_[A-Za-z]{34}\b"  # Hugging Face tokens
    r"|\bnpm_[A-Za-z0-9]{36}\b"  # npm tokens
    r"|\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"  # PyPI upload tokens
    r"|\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"  # SendGrid
    r"|\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"  # Shopify
    r"|\bdop_v1_[a-f0-9]{64}\b"  # DigitalOcean
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JSON web tokens
)
HINTS = (
    "PRIVATE KEY",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "ecret_access_key",
    "ECRET_ACCESS_KEY",
    "ecretAccessKey",
    "gh",
    "github_pat_",
    "glpat-",
    "xox",
    "xapp-",
    "hooks.slack.com",
    "AIza",
    "k_live_",
    "k_test_",
    "whsec_",
    "sk-",
    "hf_",
    "npm_",
    "pypi-",
    "SG.",
    "shp",
    "dop_v1_",
    "eyJ",
)
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# A secret access key is 40 characters of base64; the three classes it always mixes tell it from a SHA-1
# (hex) or a word.
_BARE_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_NEAR = 300  # characters: "access key AKIA... and secret ..." in the same paragraph


def _mixed(s: str) -> bool:
    return any(c.islower() for c in s) and any(c.isupper() for c in s) and any(c.isdigit() or c in "/+" for c in s)


def find_secrets(text: str) -> Iterator[tuple[int, int, bool]]:
    if not any(h in text for h in HINTS):
        return
    for m in SECRET_RE.finditer(text):
        yield m.start(), m.end(), True
    # A bare secret key in prose or a table, next to the access key id it belongs to.
    for key in _ACCESS_KEY_ID.finditer(text):
        lo, hi = max(0, key.start() - _NEAR), min(len(text), key.end() + _NEAR)
        for m in _BARE_SECRET.finditer(text, lo, hi):
            if _mixed(m.group()):
                yield m.start(), m.end(), True
