"""The quality chain built from config: Gopher repetition, Gopher quality, C4, FineWeb, then PII redaction.

The order is FineWeb's recipe. The document's word/line splits are computed once (TextStats) and shared by
the filters before C4; C4 edits the text, so the filters after it get fresh splits of the edited text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from auralith.config.quality import PIIConfig, QualityConfig
from auralith.steps.c4 import C4Filter
from auralith.steps.fineweb import FineWebQualityFilter
from auralith.steps.gopher import GopherQualityFilter, GopherRepetitionFilter
from auralith.steps.pii import PIIRedactor
from auralith.steps.text_stats import TextStats


class QualityChain:
    """Call with a text: returns (text, None) to keep the (possibly edited) text, or (text, reason).

    `lines_removed` counts the lines C4 dropped per rule and `pii` the PII found per type, summed over every
    call, so a partition reports them with its other counts.
    """

    def __init__(self, quality: QualityConfig, pii: PIIConfig):
        on = quality.enabled
        self.before_c4: list[Callable[[TextStats], str | None]] = []
        if on and quality.gopher_repetition.enabled:
            self.before_c4.append(GopherRepetitionFilter(quality.gopher_repetition))
        if on and quality.gopher_quality.enabled:
            self.before_c4.append(GopherQualityFilter(quality.gopher_quality))
        self.c4 = C4Filter(quality.c4) if on and quality.c4.enabled else None
        self.fineweb = FineWebQualityFilter(quality.fineweb) if on and quality.fineweb.enabled else None
        self.redactor = PIIRedactor(pii) if pii.enabled else None
        self.lines_removed: Counter[str] = Counter()

    @property
    def pii(self) -> Counter[str]:
        return self.redactor.counts if self.redactor else Counter()

    @property
    def active(self) -> bool:
        return bool(self.before_c4 or self.c4 or self.fineweb or self.redactor)

    def __call__(self, text: str) -> tuple[str, str | None]:
        st = TextStats(text)
        for check in self.before_c4:
            reason = check(st)
            if reason:
                return text, reason
        if self.c4:
            result = self.c4(text)
            self.lines_removed.update(result.lines_removed)
            if result.reason:
                return text, result.reason
            if result.text is not None and result.text != text:
                text, st = result.text, TextStats(result.text)  # splits of the edited text
        if self.fineweb:
            reason = self.fineweb(st)
            if reason:
                return text, reason
        if self.redactor:
            return self.redactor(text)
        return text, None
