"""The quality chain on labelled documents, and how it composes the filters and PII redaction."""

from __future__ import annotations

from auralith.config.quality import PIIConfig, QualityConfig
from auralith.steps.normalize import normalize_whitespace
from auralith.steps.quality import QualityChain
from tests.steps.quality_cases import KEEP, REMOVE


def chain(**quality) -> QualityChain:
    return QualityChain(QualityConfig.model_validate(quality), PIIConfig())


def test_labelled_documents_precision_and_recall():
    ch = chain()
    removed_good = [i for i, t in enumerate(KEEP) if ch(normalize_whitespace(t))[1]]
    removed_bad = [i for i, t in enumerate(REMOVE) if ch(normalize_whitespace(t))[1]]
    precision = len(removed_bad) / (len(removed_bad) + len(removed_good))
    recall = len(removed_bad) / len(REMOVE)
    assert recall == 1.0
    # Darwin's paragraph and the Constitution's opening hold 4 sentences: C4 removes pages under 5 (datatrove too).
    assert removed_good == [0, 5]
    assert round(precision, 3) == 0.875


def test_each_junk_page_is_removed_for_its_own_reason():
    ch = chain()
    reasons = [ch(normalize_whitespace(t))[1] for t in REMOVE]
    assert reasons == [
        "gopher_quality.short_doc",
        "gopher_repetition.top_2gram",
        "c4.lorem_ipsum",
        "gopher_quality.short_doc",
        "gopher_quality.short_doc",
        "gopher_quality.short_doc",
        "gopher_quality.too_many_end_ellipsis",
        "gopher_quality.too_many_hashes",
        "gopher_quality.short_doc",
        "gopher_repetition.dup_line_frac",
        "gopher_quality.short_doc",
        "gopher_quality.below_alpha_ratio",
        "gopher_quality.below_alpha_ratio",
        "c4.too_few_sentences",
    ]


def test_c4_edits_the_kept_text_and_counts_dropped_lines():
    ch = chain(fineweb={"enabled": False})
    page = KEEP[3] + "\nShare this page\nThis site uses cookies, see our cookie policy.\nEnable JavaScript to comment."
    text, reason = ch(page)
    assert reason is None and text == KEEP[3]
    assert ch.lines_removed == {"c4.no_terminal_punct": 1, "c4.policy": 1, "c4.javascript": 1}


def test_removed_document_comes_back_as_given_and_pii_runs_last():
    ch = chain()
    page = KEEP[2] + " Write to ishmael@pequod.org with news."
    text, reason = ch(page)
    assert reason is None and text.endswith("Write to <EMAIL> with news.")
    assert ch.pii == {"email": 1}
    junk = REMOVE[2] + " Mail lorem@ipsum.com today."
    assert ch(junk) == (junk, "c4.lorem_ipsum")  # not redacted: kept aside as read
    assert ch.pii == {"email": 1}


def test_everything_off_is_a_no_op():
    ch = QualityChain(QualityConfig(enabled=False), PIIConfig(enabled=False))
    assert not ch.active and ch(REMOVE[0]) == (REMOVE[0], None)


def test_families_switch_off_one_by_one():
    spam = normalize_whitespace(REMOVE[1])
    assert chain(gopher_repetition={"enabled": False})(spam)[1] != "gopher_repetition.top_2gram"
    assert chain(gopher_repetition={"top_n_grams": {}})(spam)[1] != "gopher_repetition.top_2gram"
