"""Real multilingual text from this machine: the translated messages of Debian's gettext catalogues.

Each document is the translations of one catalogue (`/usr/share/locale/<lang>/LC_MESSAGES/<domain>.mo`) in one
language, as written by that language's translators (coreutils, apt, bash, ...): real text in many scripts,
read where it lies, never shipped.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_ROOT = Path("/usr/share/locale")


def translated_documents(per_language: int = 3, max_chars: int = 20_000) -> dict[str, list[str]]:
    """Language code -> up to `per_language` documents, each one catalogue's translated messages joined by lines."""
    found: dict[str, list[str]] = {}
    for lang_dir in sorted(LOCALE_ROOT.glob("*/LC_MESSAGES")):
        lang = lang_dir.parent.name
        for mo in sorted(lang_dir.glob("*.mo")):
            if len(found.get(lang, [])) >= per_language:
                break
            try:
                with open(mo, "rb") as fh:
                    catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
            except (OSError, ValueError, IndexError):  # a catalogue gettext cannot parse: not text for us
                continue
            messages = [v for k, v in catalog.items() if k and isinstance(v, str) and v.strip()]
            if len(messages) >= 5:
                found.setdefault(lang, []).append("\n".join(messages)[:max_chars])
    return found
