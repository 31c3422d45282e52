"""Config of the quality filters (`preprocessing.quality`) and PII redaction (`preprocessing.pii`).

Defaults are datatrove's, which follow the papers: Gopher (Rae et al. 2021, table A1), C4 (Raffel et al.
2020, section 2.2) and FineWeb (Penedo et al. 2024). FineWeb's recipe runs all four families on web text,
so all four are on by default; switch a family off (`enabled: false`) or a single check off (`null`) for
text they were not made for (hard-wrapped prose, code).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GopherQualityConfig(_Strict):
    """Gopher quality rules; a `null` threshold switches its check off."""

    enabled: bool = True
    min_doc_words: int | None = Field(default=50, ge=0)
    max_doc_words: int | None = Field(default=100_000, gt=0)
    min_avg_word_length: float | None = Field(default=3, ge=0)
    max_avg_word_length: float | None = Field(default=10, gt=0)
    max_symbol_word_ratio: float | None = Field(default=0.1, ge=0)
    max_bullet_lines_ratio: float | None = Field(default=0.9, ge=0, le=1)
    max_ellipsis_lines_ratio: float | None = Field(default=0.3, ge=0, le=1)
    min_alpha_words_ratio: float | None = Field(default=0.8, ge=0, le=1)
    min_stop_words: int | None = Field(default=2, ge=0)
    stop_words: list[str] = Field(default=["the", "be", "to", "of", "and", "that", "have", "with"])


class GopherRepetitionConfig(_Strict):
    """Gopher repetition rules (fractions of the document's characters or of its lines/paragraphs)."""

    enabled: bool = True
    dup_line_frac: float | None = Field(default=0.3, ge=0, le=1)
    dup_para_frac: float | None = Field(default=0.3, ge=0, le=1)
    dup_line_char_frac: float | None = Field(default=0.2, ge=0, le=1)
    dup_para_char_frac: float | None = Field(default=0.2, ge=0, le=1)
    # n -> max fraction of characters in the most frequent n-gram
    top_n_grams: dict[int, float] = Field(default={2: 0.2, 3: 0.18, 4: 0.16})
    # n -> max fraction of characters in n-grams that occurred before
    dup_n_grams: dict[int, float] = Field(default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})

    @field_validator("top_n_grams", "dup_n_grams")
    @classmethod
    def _n_and_fraction(cls, v: dict[int, float]) -> dict[int, float]:
        for n, frac in v.items():
            if not 1 <= n <= 20:
                raise ValueError(f"n-gram size {n} must be between 1 and 20")
            if not 0 <= frac <= 1:
                raise ValueError(f"fraction {frac} for n={n} must be between 0 and 1")
        return dict(sorted(v.items()))


class C4Config(_Strict):
    """C4 rules. Line rules drop lines (counted under `c4_lines.<rule>`); page rules drop the document."""

    enabled: bool = True
    filter_no_terminal_punct: bool = True  # drop lines not ending in . ? ! " ' (or ending in "...")
    min_words_per_line: int | None = Field(default=3, ge=0)  # drop shorter lines
    max_word_length: int | None = Field(default=1000, gt=0)  # drop lines holding a longer word
    filter_javascript: bool = True  # drop lines mentioning javascript
    filter_policy: bool = True  # drop lines about cookies / terms of use / privacy policy
    remove_citations: bool = True  # strip [1], [edit], [citation needed]
    filter_lorem_ipsum: bool = True  # drop the document
    filter_curly_bracket: bool = True  # drop the document
    min_num_sentences: int | None = Field(default=5, ge=0)  # drop the document when fewer remain


class FineWebConfig(_Strict):
    """FineWeb's own rules, on lines of the (C4-cleaned) text."""

    enabled: bool = True
    line_punct_thr: float | None = Field(default=0.12, ge=0, le=1)  # min fraction of lines ending in punctuation
    line_punct_exclude_zero: bool = False
    short_line_thr: float | None = Field(default=0.67, ge=0, le=1)  # max fraction of short lines
    short_line_length: int = Field(default=30, ge=0)
    char_duplicates_ratio: float | None = Field(default=0.01, ge=0, le=1)  # max chars in repeated lines
    new_line_ratio: float | None = Field(default=0.3, ge=0)  # max newlines per word


class C4BadWordsConfig(_Strict):
    """C4's bad-words filter: removes a document holding a word of its language's list (shipped, CC BY 4.0)."""

    enabled: bool = False  # FineWeb's recipe does not run it: it removes medical and biology text too
    default_language: str = "en"  # the list for documents without an identified language


class QualityConfig(_Strict):
    """`preprocessing.quality`: filter families, run in FineWeb's order (repetition, quality, C4, FineWeb)."""

    enabled: bool = True  # false switches every family off (text filtered upstream, synthetic test data)
    # Documents identified as another language than English get FineWeb-2's settings for their language
    # (steps/language_rules.py); false applies the settings below to every language.
    per_language: bool = True
    c4_badwords: C4BadWordsConfig = C4BadWordsConfig()
    gopher_repetition: GopherRepetitionConfig = GopherRepetitionConfig()
    gopher_quality: GopherQualityConfig = GopherQualityConfig()
    c4: C4Config = C4Config()
    fineweb: FineWebConfig = FineWebConfig()


PIIAction = Literal["tag", "hash", "drop", "keep", "off"]
PII_TYPES = ("email", "phone", "ip", "credit_card", "iban", "secret")
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR")


class PIIActions(_Strict):
    """Per type: `tag` (replace with `<EMAIL>` ...), `hash` (a short stable salted hash, so equal values
    stay equal), `drop` (remove the document as `pii.<type>`), `keep` (count only), `off` (do not look)."""

    email: PIIAction = "tag"
    phone: PIIAction = "tag"
    ip: PIIAction = "tag"
    credit_card: PIIAction = "tag"
    iban: PIIAction = "tag"
    secret: PIIAction = "tag"


class PIIConfig(_Strict):
    """`preprocessing.pii`: redaction after the quality filters. On by default, as in FineWeb."""

    enabled: bool = True
    replace: PIIActions = PIIActions()
    salt: str = Field(default="auralith", min_length=1, description="Salt of the `hash` replacement.")
    only_public_ips: bool = True  # 10.0.0.1, 127.0.0.1, documentation ranges are not personal data
    # Regions whose national formats count as phone numbers (`030 1234567` with DE); `+CC` numbers are found
    # whatever the list. Default chosen on bench/pii.py's labelled set (docs/quality.md).
    phone_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        import phonenumbers  # only here: the config package stays pure data for everyone else

        unknown = [r for r in v if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region code(s) {unknown}: use ISO 3166 alpha-2 codes such as 'US', 'DE'")
        return v
