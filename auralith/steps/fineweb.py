"""FineWeb's own quality rules (Penedo et al. 2024), with datatrove's semantics and thresholds."""

from __future__ import annotations

from auralith.config.quality import FineWebConfig
from auralith.steps.punctuation import TERMINAL_PUNCTUATION
from auralith.steps.text_stats import TextStats, duplicates


class FineWebQualityFilter:
    """Lines ending in punctuation, short lines, characters in repeated lines, newlines per word."""

    def __init__(self, cfg: FineWebConfig):
        self.cfg = cfg

    def __call__(self, st: TextStats) -> str | None:
        c = self.cfg
        lines = st.nonblank_lines
        if not lines:
            return "fineweb.empty"
        n = len(lines)
        if c.line_punct_thr is not None:
            ratio = sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION) / n
            if ratio < c.line_punct_thr and not (ratio == 0 and c.line_punct_exclude_zero):
                return "fineweb.line_punct_ratio"
        if c.short_line_thr is not None:
            limit = c.short_line_length
            if sum(1 for line in lines if len(line) <= limit) / n > c.short_line_thr:
                return "fineweb.short_line_ratio"
        if c.char_duplicates_ratio is not None:
            chars = len(st.text) - st.text.count("\n")
            if chars and duplicates(lines)[1] / chars > c.char_duplicates_ratio:
                return "fineweb.char_dup_ratio"
        if c.new_line_ratio is not None and st.text.count("\n") / (len(st.words) or 1) > c.new_line_ratio:
            return "fineweb.newline_ratio"
        return None
