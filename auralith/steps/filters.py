"""Document filters. A filter returns None to keep a document or the reason string it is removed for."""

from __future__ import annotations

from auralith.config.preprocessing import LengthConfig


class LengthFilter:
    """Removes documents shorter than `min_chars` or longer than `max_chars` (after normalisation)."""

    def __init__(self, cfg: LengthConfig):
        self.min_chars = cfg.min_chars
        self.max_chars = cfg.max_chars

    def __call__(self, text: str) -> str | None:
        n = len(text)
        if n == 0:
            return "length.empty"
        if n < self.min_chars:
            return "length.too_short"
        if self.max_chars is not None and n > self.max_chars:
            return "length.too_long"
        return None
