"""A labelled multilingual set of real text from this machine, for language identification.

    from bench.langid_data import build_langid_set
    docs = build_langid_set(per_bucket=40)  # [{"text", "lang", "bucket", "source"}, ...]

Two sources, both written by people and installed by Debian packages:

- translated manual pages (manpages-l10n and the packages' own, /usr/share/man/<locale>/): paragraphs of a
  translated page that do not also appear in the English page of the same name (untranslated paragraphs and
  command examples are left out, so a label is the language of the words), joined into `medium` (one
  paragraph, 100-400 characters) and `long` (1,000-3,000 characters) documents;
- gettext catalogues (/usr/share/locale/<locale>/LC_MESSAGES/*.mo: GLib, GTK, PAM, ...): translated messages
  (msgstr differing from msgid, placeholders and mnemonics removed) as `short` documents (20-80 characters),
  and for languages without translated manual pages here, consecutive messages joined into the longer
  buckets.

Each text keeps the licence of the package it comes from (GPL-2+/GPL-3+ manual pages, LGPL-2.1+ GLib/GTK,
BSD PAM, ...): the bench builds the set in memory and ships none of it; `source` names the file.
"""

from __future__ import annotations

import gettext
import gzip
import random
import re
from pathlib import Path

from bench.corpus import render_roff

MAN = Path("/usr/share/man")
LOCALE = Path("/usr/share/locale")
# locale directory -> ISO 639-1 label (Norwegian Bokmål as `no`, as most identifiers name it)
MAN_LANGS = {
    **{x: x for x in "cs da de es fi fr hu id it ja ko nl pl pt ro ru sl sv tr uk".split()},
    "pt_BR": "pt",
    "zh_CN": "zh",
}
MO_ONLY_LANGS = {"sk": "sk", "nb": "no", "el": "el", "he": "he", "ar": "ar", "hr": "hr", "bg": "bg", "ca": "ca"}
BUCKETS = {"short": (20, 80), "medium": (100, 400), "long": (1000, 3000)}
HARD_PAIRS = [("es", "pt"), ("cs", "sk"), ("da", "no"), ("da", "sv"), ("no", "sv"), ("ru", "uk"), ("zh", "ja")]

_PLACEHOLDER = re.compile(r"%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?[hlLqjzt]*[diouxXeEfgGcsp%]|\{[^}]*\}|<[^>]+>|_(?=\w)")


def normalize_label(code: str | None) -> str:
    """One label per language across identifiers: `nb`/`nn` -> `no`, `iw` -> `he`, `zh-Hant` -> `zh`."""
    if not code:
        return "und"
    code = code.replace("_", "-").split("-")[0].lower()
    return {"nb": "no", "nn": "no", "iw": "he"}.get(code, code)  # CLD2 still says `iw` for Hebrew


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def mo_messages(locale: str, source_side: bool = False) -> list[tuple[str, str]]:
    """(file, message) for each translated message of the locale's catalogues, cleaned of placeholders.

    With `source_side`, the English msgid of each translated message instead (the English short texts).
    """
    out: list[tuple[str, str]] = []
    for path in sorted((LOCALE / locale / "LC_MESSAGES").glob("*.mo")):
        if path.name.startswith("iso_"):  # country and language names: mostly proper nouns
            continue
        try:
            with open(path, "rb") as fh:
                catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
        except (OSError, UnicodeDecodeError, LookupError, ValueError):  # unreadable or another charset: skip
            continue
        for key, value in catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            if not msgid or not isinstance(value, str) or value == msgid or "\x00" in value:
                continue
            text = " ".join(_PLACEHOLDER.sub("", msgid if source_side else value).split())
            if _letters(text) >= 0.6 * len(text) and len(text) >= 20:
                out.append((path.name, text))
    return out


def _paragraphs(path: Path) -> list[str]:
    try:
        text = render_roff(gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace"))
    except (OSError, EOFError, gzip.BadGzipFile):
        return []
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def man_paragraphs(locale: str) -> list[tuple[str, str]]:
    """(page, paragraph) for each paragraph of the locale's pages that the English page does not hold.

    With locale "en", the English pages of section 1 themselves.
    """
    out: list[tuple[str, str]] = []
    pages = sorted(MAN.glob("man1/*.gz"))[:400] if locale == "en" else sorted((MAN / locale).glob("man*/*.gz"))
    for path in pages:
        english = set() if locale == "en" else set(_paragraphs(MAN / path.parent.name / path.name))
        for para in _paragraphs(path):
            if para not in english and _letters(para) >= 0.6 * len(para):
                out.append((f"man/{locale}/{path.parent.name}/{path.name}", para))
    return out


def _joined(pieces: list[tuple[str, str]], lo: int, hi: int, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Up to n documents of lo..hi characters, each consecutive pieces of one source joined by blank lines."""
    docs: list[tuple[str, str]] = []
    starts = list(range(len(pieces)))
    rng.shuffle(starts)
    for i in starts:
        if len(docs) >= n:
            break
        src, parts, size = pieces[i][0], [], 0
        for s, text in pieces[i:]:
            if s != src or size + len(text) > hi:
                break
            parts.append(text)
            size += len(text) + 2
        if size >= lo:
            docs.append((src, "\n\n".join(parts)))
    return docs


def build_langid_set(per_bucket: int = 40, seed: int = 0) -> list[dict]:
    """`per_bucket` documents per language and length bucket (fewer where the machine holds fewer)."""
    rng = random.Random(seed)
    docs: list[dict] = []
    locales = {"en": "en", **MAN_LANGS, **MO_ONLY_LANGS}
    by_label: dict[str, list[str]] = {}
    for loc, lang in locales.items():
        by_label.setdefault(lang, []).append(loc)
    for lang, locs in sorted(by_label.items()):
        if lang == "en":  # English: the msgids that German translators translated, and English pages
            messages, paragraphs = mo_messages("de", source_side=True), man_paragraphs("en")
        else:
            messages = [m for loc in locs if (LOCALE / loc).is_dir() for m in mo_messages(loc)]
            paragraphs = [p for loc in locs if loc in MAN_LANGS for p in man_paragraphs(loc)]
        lo, hi = BUCKETS["short"]
        short = [m for m in messages if lo <= len(m[1]) <= hi]
        rng.shuffle(short)
        picked = {"short": short[:per_bucket]}
        base = paragraphs if len(paragraphs) >= 20 else messages
        lo, hi = BUCKETS["medium"]
        single = [p for p in base if lo <= len(p[1]) <= hi]
        rng.shuffle(single)
        picked["medium"] = single[:per_bucket] or _joined(base, lo, hi, rng, per_bucket)
        lo, hi = BUCKETS["long"]
        picked["long"] = _joined(base, lo, hi, rng, per_bucket)
        for bucket, items in picked.items():
            docs.extend({"text": t, "lang": lang, "bucket": bucket, "source": s} for s, t in items)
    return docs


if __name__ == "__main__":
    from collections import Counter

    built = build_langid_set()
    print(Counter((d["lang"], d["bucket"]) for d in built))


FIXTURE_LANGS = "cs da de el en es fi fr it ja nl no pl pt ru sk sv tr uk zh".split()
FIXTURE_LOCALES = {"no": "nb", "zh": "zh_CN", "pt": "pt"}


def write_fixture(path: Path, seed: int = 0) -> int:
    """The tests' small labelled set: GLib's own translations (glib20.mo, LGPL-2.1-or-later), 20 languages,
    per language 2 short messages (20-80 characters) and 1 long text (consecutive messages, 400-1,200)."""
    import json

    rng = random.Random(seed)
    rows = []
    for lang in FIXTURE_LANGS:
        loc = FIXTURE_LOCALES.get(lang, lang)
        msgs = [m for m in mo_messages("de" if lang == "en" else loc, source_side=lang == "en") if m[0] == "glib20.mo"]
        short = [m for m in msgs if 20 <= len(m[1]) <= 80]
        rng.shuffle(short)
        rows += [{"lang": lang, "bucket": "short", "text": t} for _, t in short[:2]]
        rows += [{"lang": lang, "bucket": "long", "text": t} for _, t in _joined(msgs, 400, 1200, rng, 1)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return len(rows)
