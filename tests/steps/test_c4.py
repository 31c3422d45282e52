"""C4: line rules drop lines (counted), page rules drop the document."""

from __future__ import annotations

from auralith.config.quality import C4Config
from auralith.steps.c4 import C4Filter

GOOD = [
    "The river rose in the night and the town woke to water in the streets.",
    "People carried chairs and books up the stairs while the boats came.",
    "By noon the rain had stopped, and the sun came out over the hills.",
    "The mayor said that the town would help every family that lost a home.",
    "Schools stayed closed for a week while the roads were cleaned.",
]


def run(lines: list[str], **cfg):
    return C4Filter(C4Config(**cfg))("\n".join(lines))


def test_clean_page_is_kept_unchanged():
    res = run(GOOD)
    assert (res.reason, res.text, res.lines_removed) == (None, "\n".join(GOOD), {})


def test_line_rules_drop_lines_and_count_them():
    res = run(
        GOOD
        + [
            "Menu",
            "Two words.",
            "Enable JavaScript to see the map.",
            "We use cookies, see the privacy policy.",
            "A line with a " + "w" * 1001 + " word.",
            "It went on and on...",
        ]
    )
    assert res.reason is None and res.text == "\n".join(GOOD)
    assert res.lines_removed == {
        "c4.no_terminal_punct": 2,
        "c4.too_few_words": 1,
        "c4.javascript": 1,
        "c4.policy": 1,
        "c4.too_long_word": 1,
    }


def test_citations_are_removed_before_the_punctuation_check():
    res = run(GOOD[:4] + ["The flood of 1953 was worse.[1]", "It was the worst in a century.[citation needed]"])
    assert res.reason is None and res.text.endswith("The flood of 1953 was worse.\nIt was the worst in a century.")


def test_page_rules():
    assert run(GOOD + ["Lorem ipsum dolor sit amet, it says."]).reason == "c4.lorem_ipsum"
    assert run(GOOD + ["Write it as {key: value} in the file."]).reason == "c4.curly_bracket"
    assert run(GOOD[:3]).reason == "c4.too_few_sentences"
    assert run(["One. Two words here. And three more. Four is here. Five now."]).reason is None  # 5 in one line


def test_rules_switch_off():
    assert run(GOOD + ["Menu"], filter_no_terminal_punct=False, min_words_per_line=None).text.endswith("Menu")
    assert run(GOOD + ["Use {braces}."], filter_curly_bracket=False).reason is None
    assert run(GOOD[:2], min_num_sentences=None).reason is None


def test_blank_lines_are_paragraph_breaks_not_counted_lines():
    res = run([GOOD[0], "", GOOD[1], "", *GOOD[2:]])
    assert res.text == "\n".join(GOOD) and res.lines_removed == {}
    kept = run([GOOD[0], "", *GOOD[1:]], filter_no_terminal_punct=False, min_words_per_line=None)
    assert kept.text == "\n".join([GOOD[0], "", *GOOD[1:]])  # no line rule drops them: breaks stay
