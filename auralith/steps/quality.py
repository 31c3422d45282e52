"""The quality chain built from config: Gopher repetition, Gopher quality, C4, FineWeb, then PII redaction.

The order is FineWeb's recipe. The document's word/line splits are computed once (TextStats) and shared by
the filters before C4; C4 edits the text, so the filters after it get fresh splits of the edited text.
With a document's language known (`preprocessing.language`), the filters follow it (steps/language_rules.py):
English keeps the configured rules, other languages get FineWeb-2's settings for their language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from auralith.config.quality import PIIConfig, QualityConfig
from auralith.steps.badwords import C4BadWordsFilter
from auralith.steps.c4 import C4Filter
from auralith.steps.fineweb import FineWebQualityFilter
from auralith.steps.gopher import GopherQualityFilter, GopherRepetitionFilter
from auralith.steps.language_rules import ENGLISH, quality_for_language
from auralith.steps.pii import PIIRedactor
from auralith.steps.text_stats import TextStats


@dataclass
class _Families:
    """The filters of one quality config (one per language seen)."""

    before_c4: list[Callable[[TextStats], str | None]]
    c4: C4Filter | None
    fineweb: FineWebQualityFilter | None

    @classmethod
    def build(cls, quality: QualityConfig) -> _Families:
        on = quality.enabled
        before: list[Callable[[TextStats], str | None]] = []
        if on and quality.gopher_repetition.enabled:
            before.append(GopherRepetitionFilter(quality.gopher_repetition))
        if on and quality.gopher_quality.enabled:
            before.append(GopherQualityFilter(quality.gopher_quality))
        return cls(
            before,
            C4Filter(quality.c4) if on and quality.c4.enabled else None,
            FineWebQualityFilter(quality.fineweb) if on and quality.fineweb.enabled else None,
        )


class QualityChain:
    """Call with a text (and its language, or None): returns (text, None) to keep the (possibly edited) text,
    or (text, reason).

    `lines_removed` counts the lines C4 dropped per rule and `pii` the PII found per type, summed over every
    call, so a partition reports them with its other counts.
    """

    def __init__(self, quality: QualityConfig, pii: PIIConfig):
        self.quality = quality
        self.configured = _Families.build(quality)
        self.per_language: dict[str, _Families] = {}
        on = quality.enabled
        self.badwords = (
            C4BadWordsFilter(quality.c4_badwords.default_language) if on and quality.c4_badwords.enabled else None
        )
        self.redactor = PIIRedactor(pii) if pii.enabled else None
        self.lines_removed: Counter[str] = Counter()

    @property
    def pii(self) -> Counter[str]:
        return self.redactor.counts if self.redactor else Counter()

    @property
    def active(self) -> bool:
        f = self.configured
        return bool(f.before_c4 or f.c4 or f.fineweb or self.badwords or self.redactor)

    def families(self, lang: str | None) -> _Families:
        """The configured filters for English or an unknown language, FineWeb-2's for another language."""
        if lang is None or lang == ENGLISH or not self.quality.per_language:
            return self.configured
        if lang not in self.per_language:
            self.per_language[lang] = _Families.build(quality_for_language(self.quality, lang))
        return self.per_language[lang]

    def __call__(self, text: str, lang: str | None = None) -> tuple[str, str | None]:
        f = self.families(lang)
        st = TextStats(text)
        for check in f.before_c4:
            reason = check(st)
            if reason:
                return text, reason
        if self.badwords:
            reason = self.badwords(text, lang)
            if reason:
                return text, reason
        if f.c4:
            result = f.c4(text)
            self.lines_removed.update(result.lines_removed)
            if result.reason:
                return text, result.reason
            if result.text is not None and result.text != text:
                text, st = result.text, TextStats(result.text)  # splits of the edited text
        if f.fineweb:
            reason = f.fineweb(st)
            if reason:
                return text, reason
        if self.redactor:
            return self.redactor(text)
        return text, None
