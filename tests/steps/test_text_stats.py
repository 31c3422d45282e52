"""Shared splits: tokens close to spaCy's, lines and paragraphs as datatrove splits them."""

from auralith.steps.text_stats import TextStats, duplicates


def test_tokens_keep_urls_emails_numbers_and_split_punctuation():
    st = TextStats("Use -l or --no-action: don't, see https://x.org/a?b=c or mail a.b@example.com (1,000 items, 3.14).")
    assert st.words == [
        "Use",
        "-l",
        "or",
        "--no",
        "-",
        "action",
        ":",
        "do",
        "n't",
        ",",
        "see",
        "https://x.org/a?b=c",
        "or",
        "mail",
        "a.b@example.com",
        "(",
        "1,000",
        "items",
        ",",
        "3.14",
        ")",
        ".",
    ]
    assert st.non_symbol_words == [w for w in st.words if w not in {"-", ":", ",", "(", ")", "."}]


def test_abbreviations_units_and_ellipsis():
    assert TextStats("e.g. 2m wait... W. Smith").words == ["e.g.", "2", "m", "wait", "...", "W.", "Smith"]


def test_alpha_words_lines_paragraphs():
    st = TextStats("one 22 three\n\n\nfour\nfive")
    assert st.alpha_word_count == 4
    assert st.lines == ["one 22 three", "", "", "four", "five"]
    assert st.newline_runs_lines == ["one 22 three", "four", "five"]
    assert st.paragraphs == ["one 22 three", "four\nfive"]
    assert st.nonblank_lines == ["one 22 three", "four", "five"]


def test_word_ids_and_length_prefix():
    st = TextStats("a bb a ccc")
    assert st.word_ids == [0, 1, 0, 2]
    assert st.length_prefix == [0, 1, 3, 4, 7]


def test_duplicates_counts_items_seen_before_and_their_characters():
    assert duplicates(["ab", "c", "ab", "ab", "c"]) == (3, 5)
    assert duplicates([]) == (0, 0)
