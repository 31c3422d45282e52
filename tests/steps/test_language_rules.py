import pytest

from auralith.config.language import LanguageConfig
from auralith.config.quality import PIIConfig, QualityConfig
from auralith.steps.badwords import C4BadWordsFilter, badwords_languages
from auralith.steps.language import LanguageFilter
from auralith.steps.language_rules import fineweb2_settings, quality_for_language
from auralith.steps.quality import QualityChain
from tests.steps.quality_cases import KEEP, KEEP_DE, KEEP_ZH, REMOVE, REMOVE_DE


@pytest.fixture(scope="module")
def identify() -> LanguageFilter:
    return LanguageFilter(LanguageConfig())


def test_clean_german_and_chinese_kept_once_their_language_is_known(identify):
    chain = QualityChain(QualityConfig(), PIIConfig())
    # The English-tuned rules alone (language identification off) remove both, as the issue reported.
    assert chain(KEEP_DE)[1] == "gopher_quality.few_stop_words"
    assert chain(KEEP_ZH)[1] is not None
    for text, lang in ((KEEP_DE, "de"), (KEEP_ZH, "zh")):
        got, score, _ = identify(text)
        assert got == lang and score > 0.9
        assert chain(text, got) == (text, None)


def test_junk_still_removed_in_every_language(identify):
    chain = QualityChain(QualityConfig(), PIIConfig())
    assert chain(REMOVE_DE, identify(REMOVE_DE)[0])[1] is not None
    for text in REMOVE:
        assert chain(text, identify(text)[0])[1] is not None, text[:60]


def test_english_keeps_the_configured_rules(identify):
    chain = QualityChain(QualityConfig(), PIIConfig())
    for text in KEEP[:3]:
        assert identify(text)[0] == "en"
        assert chain(text, "en") == chain(text)


def test_fineweb2_settings_replace_english_ones_but_a_check_switched_off_stays_off():
    de = quality_for_language(QualityConfig(), "de")
    assert "der" in de.gopher_quality.stop_words and "the" not in de.gopher_quality.stop_words
    assert de.gopher_quality.min_alpha_words_ratio == fineweb2_settings()["de"]["max_non_alpha_words_ratio"]
    assert de.c4.filter_no_terminal_punct is False and de.c4.filter_lorem_ipsum is True
    assert de.fineweb.short_line_thr is None and de.gopher_repetition.dup_para_frac is None
    off = QualityConfig.model_validate({"gopher_quality": {"min_alpha_words_ratio": None}})
    assert quality_for_language(off, "de").gopher_quality.min_alpha_words_ratio is None
    # A language FineWeb-2 has no settings for: only language-independent checks.
    xx = quality_for_language(QualityConfig(), "und")
    assert xx.gopher_quality.min_stop_words is None and xx.gopher_quality.min_avg_word_length is None
    # No word-length bounds where words are not separated by spaces.
    assert quality_for_language(QualityConfig(), "zh").gopher_quality.max_avg_word_length is None
    # Per-language rules off: the configured rules for every language.
    flat = QualityChain(QualityConfig(per_language=False), PIIConfig())
    assert flat(KEEP_DE, "de")[1] == "gopher_quality.few_stop_words"


def test_c4_badwords_per_language():
    assert {"en", "de", "zh", "ja", "ru"} <= badwords_languages()
    f = C4BadWordsFilter()
    assert f("A perfectly ordinary sentence about gardening.", "en") is None
    assert f("Some text, then fuck, then more.", "en") == "c4.badwords"
    assert f("Some text, then fuckery-free words.", "en") is None  # whole words only
    assert f("Ein Satz mit arschloch darin.", "de") == "c4.badwords"
    assert f("Ein Satz mit arschloch darin.", "xx") is None  # no list: not filtered
    assert f("Words with fuck and no language.", None) == "c4.badwords"  # default_language
    assert f("性别平等是一项基本人权。", "zh") is None  # the allow-listed sub-word
    chain = QualityChain(QualityConfig.model_validate({"c4_badwords": {"enabled": True}}), PIIConfig())
    assert chain(KEEP[0] + " What the fuck.", "en")[1] == "c4.badwords"
    assert chain(KEEP[0], "en")[1] == QualityChain(QualityConfig(), PIIConfig())(KEEP[0], "en")[1]
