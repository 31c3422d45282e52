"""Real text for benchmarks, read from this machine: man pages and package docs (no download).

    real_text_documents(target_mb, seed) -> list of documents, about target_mb MB of UTF-8 in all
"""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

MAN = Path("/usr/share/man")
DOC = Path("/usr/share/doc")
_ROFF_ESCAPE = re.compile(rb"\\f[BIRP1-9]|\\\(..|\\[&|^e]|\\s[+-]?\d")
_TEXT_NAMES = re.compile(r"(README|NEWS|changelog|copyright|TODO|AUTHORS|\.txt|\.md|\.rst)(\.gz)?$", re.I)


def _man_text(raw: bytes) -> bytes:
    """Roff source as plain text, cheaply: drop request and comment lines, strip common escapes."""
    lines = (line for line in raw.splitlines() if not line.startswith((b".", b"'")))
    return _ROFF_ESCAPE.sub(b"", b"\n".join(lines)).replace(b"\\-", b"-")


def _candidates() -> list[Path]:
    files = sorted(p for p in MAN.rglob("*.gz") if p.is_file())
    files += sorted(p for p in DOC.rglob("*") if p.is_file() and _TEXT_NAMES.search(p.name))
    return files


def _read(path: Path) -> str | None:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if path.is_relative_to(MAN):
        raw = _man_text(raw)
    if b"\0" in raw[:4096]:
        return None  # binary
    text = raw.decode("utf-8", errors="replace").strip()
    return text if len(text.split()) >= 20 else None


def real_text_documents(target_mb: float, seed: int = 0) -> list[str]:
    """About `target_mb` MB of real English-ish documents (one per file), in a seeded order.

    When the machine holds less text than asked for, the files are used again in a new order, so sizes
    well beyond the local text still work (the repeats are exact duplicates of earlier documents).
    """
    files = _candidates()
    if not files:
        raise RuntimeError(f"no text under {MAN} or {DOC}")
    target = int(target_mb * 2**20)
    rng = random.Random(seed)
    docs: list[str] = []
    total = 0
    cache: dict[Path, str | None] = {}
    while total < target:
        order = files[:]
        rng.shuffle(order)
        added = 0
        for path in order:
            if path not in cache:
                cache[path] = _read(path)
            text = cache[path]
            if text is None:
                continue
            docs.append(text)
            size = len(text.encode())
            total += size
            added += size
            if total >= target:
                break
        if not added:
            raise RuntimeError(f"no readable text under {MAN} or {DOC}")
    return docs
