"""C4's cleaning rules (Raffel et al. 2020, section 2.2), with datatrove's semantics.

C4 both edits and removes: lines failing a line rule are dropped from the document (counted per rule), and a
page rule (lorem ipsum, a curly bracket, too few sentences left) removes the whole document.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from auralith.config.quality import C4Config

CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
# A sentence ends at terminal punctuation (with closing quotes/brackets) followed by more text on the line.
# datatrove asks spaCy's sentencizer, which splits at the same marks; a regex gives the same count on prose.
_SENTENCE_BREAK = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=\S)")


@dataclass
class C4Result:
    """The cleaned text (or None when the document is removed), the page reason, dropped lines per rule."""

    text: str | None
    reason: str | None
    lines_removed: Counter[str]


class C4Filter:
    """Applies C4's line rules then its page rules; returns the cleaned text or a removal reason."""

    def __init__(self, cfg: C4Config):
        self.cfg = cfg

    def __call__(self, text: str) -> C4Result:
        c = self.cfg
        dropped: Counter[str] = Counter()
        kept: list[str] = []
        sentences = 0
        max_word = c.max_word_length
        min_words = c.min_words_per_line
        drops_blank = c.filter_no_terminal_punct or (min_words or 0) > 0
        for line in text.splitlines():
            line = line.strip()
            if not line:
                # A blank line is a paragraph break, not content: dropped (as datatrove does) when a line rule
                # would drop it, but not counted as a removed line.
                if not drops_blank:
                    kept.append(line)
                continue
            words = line.split()
            if max_word is not None and len(line) > max_word and any(len(w) > max_word for w in words):
                dropped["c4.too_long_word"] += 1
                continue
            if c.remove_citations and "[" in line:
                line = CITATION_RE.sub("", line)
            if c.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
                dropped["c4.no_terminal_punct"] += 1
                continue
            if min_words is not None and len(words) < min_words:
                dropped["c4.too_few_words"] += 1
                continue
            lower = line.lower()
            if c.filter_lorem_ipsum and "lorem ipsum" in lower:
                return C4Result(None, "c4.lorem_ipsum", dropped)
            if c.filter_javascript and "javascript" in lower:
                dropped["c4.javascript"] += 1
                continue
            if c.filter_curly_bracket and "{" in line:
                return C4Result(None, "c4.curly_bracket", dropped)
            if c.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                dropped["c4.policy"] += 1
                continue
            sentences += 1 + len(_SENTENCE_BREAK.findall(line))
            kept.append(line)
        if c.min_num_sentences is not None and sentences < c.min_num_sentences:
            return C4Result(None, "c4.too_few_sentences", dropped)
        return C4Result("\n".join(kept).strip(), None, dropped)
