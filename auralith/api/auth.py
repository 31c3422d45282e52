"""Bearer tokens with roles: `viewer` reads, `operator` also submits, cancels and resumes.

Tokens are kept hashed: `AURALITH_API_TOKENS` (the environment, or the secrets file named by
AURALITH_SECRETS_FILE) lists `name:role:sha256:HEX` entries separated by commas or whitespace, made by
`auralith api-token NAME --role ROLE`, which prints the token once. A token is 32 random bytes, so a plain
SHA-256 is enough to keep it safe at rest (a slow password hash protects guessable secrets, which these are not);
hashes are compared in constant time. An entry may end in `:N/h`: that token submits at most N jobs an hour
(429 beyond, with Retry-After). A request names its token in `Authorization: Bearer TOKEN`, or, from the
dashboard, in the HttpOnly cookie set at login; a state-changing request that relies on the cookie must also
carry `X-Auralith-Request: 1`, which a form on another site cannot send (no CSRF through the cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from auralith.errors import ConfigError
from auralith.redact import SECRETS_FILE_ENV, secret

ENV_VAR = "AURALITH_API_TOKENS"
ROLES = ("viewer", "operator")
COOKIE = "auralith_token"
CSRF_HEADER = "X-Auralith-Request"
TOKEN_PREFIX = "aur_"


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token(name: str, role: str) -> tuple[str, str]:
    """(the token to hand out, its entry for AURALITH_API_TOKENS)."""
    if role not in ROLES:
        raise ConfigError([f"role: expected one of {', '.join(ROLES)}, got {role!r}"])
    if not name or any(c in name for c in ":, \t\n"):
        raise ConfigError(["name: a non-empty name without ':', ',' or spaces"])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, f"{name}:{role}:{hash_token(token)}"


@dataclass(frozen=True)
class Caller:
    """Who made a request: the token's name and role."""

    name: str
    role: str

    @property
    def can_operate(self) -> bool:
        return self.role == "operator"


class TokenBook:
    """The accepted tokens (hashes only), by name and role."""

    def __init__(self, entries: list[tuple[str, str, str]], submit_limits: dict[str, int] | None = None):
        self.entries = entries
        self.submit_limits = submit_limits or {}  # token name -> most jobs it may submit in an hour
        self._submits: dict[str, deque[float]] = {}

    @classmethod
    def parse(cls, text: str, source: str = ENV_VAR) -> TokenBook:
        """`NAME:ROLE:sha256:HEX` entries, each optionally ending in `:N/h` (at most N submits an hour)."""
        entries, limits, problems = [], {}, []
        for n, item in enumerate(text.replace(",", " ").split(), 1):
            parts = item.split(":")
            name, role = parts[0], parts[1] if len(parts) > 1 else ""
            digest = ":".join(parts[2:4])
            limit = parts[4] if len(parts) == 5 else None
            if (
                len(parts) not in (4, 5)
                or role not in ROLES
                or not digest.startswith("sha256:")
                or len(digest) != 7 + 64
                or (limit is not None and not re.fullmatch(r"[1-9][0-9]*/h", limit))
            ):
                problems.append(
                    f"{source}: entry {n} ({name or '?'}): expected NAME:ROLE:sha256:HEX or NAME:ROLE:sha256:HEX:N/h, "
                    "ROLE viewer or operator"
                )
                continue
            entries.append((name, role, digest))
            if limit is not None:
                limits[name] = int(limit.removesuffix("/h"))
        if problems:
            raise ConfigError(problems)
        return cls(entries, limits)

    def take_submit(self, caller: Caller, now: float | None = None) -> float | None:
        """Count one submit of `caller`; None when within its hourly limit, else seconds until a slot frees up.
        Counted in this process's memory: with several API replicas, each allows the limit."""
        limit = self.submit_limits.get(caller.name)
        if limit is None:
            return None
        now = time.monotonic() if now is None else now
        recent = self._submits.setdefault(caller.name, deque())
        while recent and recent[0] <= now - 3600:
            recent.popleft()
        if len(recent) >= limit:
            return recent[0] + 3600 - now
        recent.append(now)
        return None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> TokenBook:
        """The tokens of AURALITH_API_TOKENS (environment, then the secrets file). ConfigError when none is set:
        the API serves nobody anonymously."""
        try:
            text = secret(ENV_VAR, env)
        except ConfigError:
            where = f"the environment or {env[SECRETS_FILE_ENV]}" if env.get(SECRETS_FILE_ENV) else "the environment"
            raise ConfigError(
                [f"{ENV_VAR} is not set in {where}: make a token with `auralith api-token NAME --role operator`"]
            ) from None
        book = cls.parse(text)
        if not book.entries:
            raise ConfigError([f"{ENV_VAR} lists no token"])
        return book

    def caller(self, token: str) -> Caller | None:
        digest = hash_token(token)
        found = None
        for name, role, expected in self.entries:  # every entry compared: the time says nothing of which matched
            if hmac.compare_digest(digest, expected):
                found = Caller(name, role)
        return found


def _token_of(request: Request) -> tuple[str | None, bool]:
    """(the token, whether it came from the cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def authenticate(request: Request) -> Caller:
    """The caller of a request; 401 without a valid token. A cookie-borne token on a state-changing method
    needs the CSRF header."""
    token, from_cookie = _token_of(request)
    book: TokenBook = request.app.state.tokens
    caller = book.caller(token) if token else None
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid token is required (Authorization: Bearer TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a request authenticated by cookie needs {CSRF_HEADER}: 1")
    return caller


def viewer(request: Request) -> Caller:
    """Dependency: any valid token."""
    return authenticate(request)


def operator(request: Request) -> Caller:
    """Dependency: an operator's token (submit, cancel, resume)."""
    caller = authenticate(request)
    if not caller.can_operate:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"token {caller.name!r} is a viewer's: this needs an operator")
    return caller
