"""Where job webhooks may POST: only hosts named in `AURALITH_WEBHOOK_HOSTS`, never by surprise a loopback,
link-local or cloud-metadata address.

A job config is the submitter's; the server decides where its workers may send requests. The variable holds
host patterns separated by commas or spaces: `hooks.slack.com`, `*.example.com` (any subdomain), `*` (any
host), each optionally with `:port`. Unset, no webhook is sent. A host that resolves to a loopback, link-local
(which includes 169.254.169.254, the metadata service of most clouds), unspecified or other metadata address
is refused unless that host or address is listed by name (`*` does not cover it).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from auralith.errors import ConfigError

ENV_VAR = "AURALITH_WEBHOOK_HOSTS"
# Metadata services that are neither loopback nor link-local: Alibaba Cloud's, and AWS's IPv6 one.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")})
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})

Resolver = Callable[[str], list[str]]


def allowed_patterns(env: Mapping[str, str] = os.environ) -> list[str]:
    return [p.strip().lower() for p in env.get(ENV_VAR, "").replace(",", " ").split() if p.strip()]


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def _named(host: str, port: int | None, pattern: str, wildcard: bool) -> bool:
    """Whether `pattern` covers host[:port]; `wildcard` False: only patterns that name the host itself."""
    name, _, want_port = pattern.rpartition(":") if pattern.count(":") == 1 else (pattern, "", "")
    if want_port and (not want_port.isdigit() or int(want_port) != port):
        return False
    name = name.strip("[]")
    if name == host:
        return True
    if not wildcard:
        return False
    return name == "*" or (name.startswith("*.") and host.endswith(name[1:]))


def _risky(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip in METADATA_ADDRESSES


def webhook_problem(url: str, env: Mapping[str, str] = os.environ, resolve: Resolver | None = _resolve) -> str | None:
    """Why a webhook may not POST to `url`, or None when it may. `resolve=None` skips the DNS lookup (a check
    at submit time; the worker checks again, with the addresses, before each POST)."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if not host:
        return "the URL names no host"
    patterns = allowed_patterns(env)
    if not patterns:
        return f"webhooks are off on this server: {ENV_VAR} names no host (e.g. {ENV_VAR}={host})"
    if not any(_named(host, port, p, wildcard=True) for p in patterns):
        return f"host {host} is not in {ENV_VAR} ({', '.join(patterns)})"
    if any(_named(host, port, p, wildcard=False) for p in patterns):
        return None  # named by the operator, private or not
    if host in METADATA_NAMES:
        return f"host {host} is a cloud metadata service; list it by name in {ENV_VAR} to allow it"
    try:
        ipaddress.ip_address(host.strip("[]"))
        addresses = [host.strip("[]")]
    except ValueError:
        if resolve is None:
            return None
        try:
            addresses = resolve(host)
        except OSError as exc:
            return f"host {host} does not resolve: {exc}"
    risky = [a for a in addresses if _risky(a)]
    if risky:
        return (
            f"host {host} is a loopback, link-local or metadata address ({', '.join(risky)}); "
            f"list it by name in {ENV_VAR} to allow it"
        )
    return None


def check_webhook(url: str, env: Mapping[str, str] = os.environ, resolve: Resolver | None = None) -> None:
    """ConfigError (key `events.webhook.url`) when a job's webhook may not be sent. A URL whose host is a
    `${NAME}` reference is checked by the worker once it expands it."""
    if "${" in url.split("://", 1)[-1].split("/", 1)[0]:
        return
    if (problem := webhook_problem(url, env, resolve)) is not None:
        raise ConfigError([f"events.webhook.url: {problem}"])
