"""A corpus of real text from this machine: man pages (rendered from roff cheaply) and /usr/share/doc files.

    from bench.corpus import real_text_documents
    docs = real_text_documents(20)  # about 20 MB of documents

Real prose, option lists, code samples and license boilerplate: the mix quality filters are meant to sort.
When the machine holds less text than asked for, documents repeat with light variation (a line shuffle and a
numbered suffix), so exact dedup does not collapse the copies.
"""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")
DOC_ROOT = Path("/usr/share/doc")
TEXT_SUFFIXES = {".txt", ".md", ".rst", ".text", ""}
MAX_DOC_BYTES = 200_000

# roff: font and size escapes, named glyphs, and the macros whose arguments are text.
_ESCAPE = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\s[+-]?\d+|\\\*(?:\(..|\[[^\]]*\]|.)|\\[&|^%:]")
_GLYPHS = {
    r"\-": "-",
    r"\(em": "—",
    r"\(en": "–",
    r"\(bu": "•",
    r"\(co": "©",
    r"\e": "\\",
    r"\(aq": "'",
    r"\(lq": "“",
    r"\(rq": "”",
    r"\ ": " ",
    r"\~": " ",
    r"\(dq": '"',
    r"\(oq": "‘",
    r"\(cq": "’",
}
_GLYPH_RE = re.compile("|".join(re.escape(k) for k in sorted(_GLYPHS, key=len, reverse=True)))
_TEXT_MACROS = re.compile(r"^\.(?:B|I|BI|BR|IB|IR|RB|RI|SM|SB|SH|SS|TP|IP|Nm|Nd|Sh|Ss|It|Fl|Ar)\b ?(.*)$")


def render_roff(source: str) -> str:
    """Plain text from a man page's roff source: text lines kept, text macros' arguments kept, escapes gone."""
    out: list[str] = []
    for line in source.splitlines():
        if line.startswith(('.\\"', "'\\\"", ".\\}")):
            continue
        if line.startswith((".", "'")):
            m = _TEXT_MACROS.match(line)
            if m is None:
                if line.startswith((".PP", ".LP", ".P", ".sp", ".Pp")):
                    out.append("")
                continue
            line = m.group(1).replace('"', "")
        line = _GLYPH_RE.sub(lambda g: _GLYPHS[g.group()], _ESCAPE.sub("", line))
        out.append(line.replace("\\", ""))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _read(path: Path) -> str | None:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b"\x00" in raw[:4096]:
        return None  # binary
    return raw[:MAX_DOC_BYTES].decode("utf-8", errors="replace")


def _machine_paths() -> list[Path]:
    paths = sorted(MAN_ROOT.glob("man*/*.gz"))
    for path in sorted(DOC_ROOT.rglob("*")):
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
        if Path(name).suffix in TEXT_SUFFIXES and path.is_file() and not path.is_symlink():
            paths.append(path)
    return paths


def _document(path: Path) -> str | None:
    text = _read(path)
    if not text or path.is_relative_to(MAN_ROOT) and text.startswith(".so "):  # `.so` pages link to others
        return None
    text = render_roff(text) if path.is_relative_to(MAN_ROOT) else text
    return text if text.strip() else None


def real_text_documents(target_mb: float, seed: int = 0) -> list[str]:
    """About `target_mb` MB (UTF-8) of documents, in a seeded random order.

    Reads man pages and /usr/share/doc text (files in random order, only as many as needed); repeats them with
    light variation when more is asked for than the machine holds.
    """
    target = int(target_mb * 2**20)
    rng = random.Random(seed)
    paths = _machine_paths()
    rng.shuffle(paths)
    docs: list[str] = []
    size = 0
    for path in paths:
        if size >= target:
            return docs
        text = _document(path)
        if text:
            docs.append(text)
            size += len(text.encode())
    if not docs:
        raise RuntimeError(f"no text found under {MAN_ROOT} or {DOC_ROOT}")
    base = list(docs)
    round_ = 1
    while size < target:
        for text in base:
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines[i : i + 2] = lines[i : i + 2][::-1]  # swap two neighbouring lines
            text = "\n".join(lines) + f"\n\n(copy {round_})"
            docs.append(text)
            size += len(text.encode())
            if size >= target:
                break
        round_ += 1
    return docs
