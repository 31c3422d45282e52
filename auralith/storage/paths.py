"""Paths that may be URLs: every path in Auralith (sources, work_dir, output, checkpoints) is a local path or
an `s3://bucket/key` URL, and code builds them with `join`, never with pathlib (it would collapse `s3://`
into `s3:/`). Pure string work: no settings, no I/O, so these are functions and not `Files` methods."""

from __future__ import annotations

from pathlib import Path


def is_url(path: str | Path) -> bool:
    """True for a remote URL (`s3://...`); False for a local path."""
    return isinstance(path, str) and "://" in path


def join(base: str | Path, *parts: str) -> str | Path:
    """`base/part/...`: a Path for a local base (as before URLs existed), a string for a URL."""
    if not is_url(base):
        return Path(base).joinpath(*parts)
    return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])
