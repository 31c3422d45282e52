"""Credentials: read from the environment or a secrets file, and masked wherever Auralith shows or stores text.

A job config never holds a credential itself: it names one as `${NAME}` (the webhook URL, say), and the
worker expands it when it needs it, from its environment or from the file named by
`AURALITH_SECRETS_FILE` (`NAME=value` lines). `redact` masks what slips through anyway: passwords in URLs,
`password=` style parameters, bearer tokens, values of keys named like secrets, and every secret value
this process has expanded.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auralith.errors import ConfigError

MASK = "***"
SECRETS_FILE_ENV = "AURALITH_SECRETS_FILE"

# Key names whose values are credentials. Whole names or `_`-suffixes only: `eos_token` and `tokenizer`
# are not secrets.
_SECRET_KEY = re.compile(
    r"(?i)^(?:password|passwd|pwd|secret|token|api_key|apikey|authorization|credentials?|basic_auth"
    r"|flower_basic_auth)$"
    r"|_(?:password|passwd|secret|secret_key|access_key|api_key|private_key|auth_token|access_token"
    r"|session_token|credentials)$"
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
_PARAM = re.compile(r"(?i)\b(password|passwd|secret|token|api_key|apikey|access_token)=[^&\s'\"]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `preprocessing.pii.replace.secret` is a PII type whose value is an action, not a credential.
_PII_ACTIONS = frozenset({"tag", "hash", "drop", "keep", "off"})
# Values expanded from `${NAME}` in this process: masked in any text redact() sees later.
_known_values: set[str] = set()


_PASSWORD_PARAM = re.compile(r"(?i)(password|passwd|secret|token)=[^&]*")


def redact_url(url: str) -> str:
    """The URL with its password masked, for logs and messages.

    Masks everything between the user name and the last '@' of the authority, so a password with an
    unescaped '@' does not leak either, and password-like query parameters.
    """
    if "://" in url:
        scheme, rest = url.split("://", 1)
        authority, sep, tail = rest.partition("/")
        if "@" in authority:
            creds, host = authority.rsplit("@", 1)
            if ":" in creds:
                authority = f"{creds.split(':', 1)[0]}:***@{host}"
        url = f"{scheme}://{authority}{sep}{tail}"
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}=***", url)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def load_secrets_file(path: str | Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped, optional quotes stripped)."""
    values = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([f"{SECRETS_FILE_ENV}: cannot read {path}: {exc.strerror}"]) from None
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not _REF.fullmatch("${" + name.strip() + "}"):
            raise ConfigError([f"{path}:{n}: expected NAME=value"])
        values[name.strip()] = value.strip().strip("'\"")
    return values


def secret(name: str, env: Mapping[str, str] = os.environ) -> str:
    """A credential by name: the environment first, then the secrets file. ConfigError if neither has it."""
    value = env.get(name)
    if value is None and env.get(SECRETS_FILE_ENV):
        value = load_secrets_file(env[SECRETS_FILE_ENV]).get(name)
    if value is None:
        where = f"the environment or {env[SECRETS_FILE_ENV]}" if env.get(SECRETS_FILE_ENV) else "the environment"
        raise ConfigError([f"secret {name} is not set in {where}"])
    if len(value) >= 4:  # shorter values would mask ordinary words everywhere
        _known_values.add(value)
    return value


def expand(text: str, env: Mapping[str, str] = os.environ) -> str:
    """`text` with every `${NAME}` replaced by that secret."""
    return _REF.sub(lambda m: secret(m.group(1), env), text)


def has_literal_credential(url: str) -> bool:
    """True when a URL itself holds a password or token (rather than a `${NAME}` reference)."""
    return redact_url(url) != url


def redact_text(text: str) -> str:
    """`text` with URL passwords, `password=` parameters, bearer tokens and known secret values masked."""
    for value in sorted(_known_values, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)


def redact(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, strings) safe to print, log or store: see `redact_text`.

    Values of keys named like credentials (`password`, `api_key`, `*_secret`, ...) are masked whole.
    """
    if isinstance(obj, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_secret_key(k) and v not in (None, "") and v not in _PII_ACTIONS
                else redact(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in each record's final message (handlers, not loggers:
    records from child loggers pass through handler filters only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of `logger` (the root logger by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
