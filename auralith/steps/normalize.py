"""Text normalisation: unicode normal form and whitespace. Pure functions over strings."""

from __future__ import annotations

import re
import unicodedata

from auralith.config.preprocessing import NormalizeConfig

# Runs of horizontal whitespace (incl. no-break and ideographic spaces) become one space; three or more
# newlines become two, so paragraph breaks survive but padding does not.
_HSPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
_MANY_NEWLINES = re.compile(r"\n{3,}")
# Control characters that are not whitespace carry no text; whitespace ones (\v, \f, \x1c-\x1f)
# become spaces below rather than vanishing, so the words they separate stay apart.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def normalize_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _HSPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


class TextNormalizer:
    """Applies the configured unicode form and whitespace clean-up."""

    def __init__(self, cfg: NormalizeConfig):
        self.form = None if cfg.unicode == "none" else cfg.unicode
        self.whitespace = cfg.whitespace

    def __call__(self, text: str) -> str:
        if self.form and not unicodedata.is_normalized(self.form, text):
            text = unicodedata.normalize(self.form, text)
        if self.whitespace:
            text = normalize_whitespace(text)
        return text
