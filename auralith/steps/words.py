"""Word splitting with spaCy's English tokenizer rules, without spaCy: the words datatrove's filters count.

datatrove splits English with `spacy.blank("en")`. Its thresholds (Gopher's 80% of words with a letter, the
n-gram fractions) were tuned on those words, and on markup-heavy text a simpler split moves documents across
them: a regex that takes `-------------` for thirteen tokens or `setns(2)` for four removes reST pages and man
pages spaCy keeps. So this module runs spaCy's own algorithm (`Tokenizer._split_affixes` and
`_attach_tokens` in spacy/tokenizer.pyx) over spaCy's own English rules, copied into
`data/spacy_en_tokenizer.json` (prefix, suffix, infix and URL patterns, 1,347 special cases; spaCy 3.8, MIT
licence): whitespace-separated chunks, special cases, prefixes and suffixes peeled off one at a time, URLs
kept whole, infixes split. Building spaCy `Doc` objects is most of spaCy's cost; without them this is a few
times faster, plain words (most chunks) take a dictionary lookup and `str.isalpha`, and other chunks are
split once and cached, as spaCy does. Two short cuts give the rules' own results for a third less CPU (a
test compares them on the demo corpus and on text in 180 languages): the suffix rule's short branches are
searched only near the end of a string, and an ASCII string without any character an infix can start with
skips the infix search.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

_DATA = json.loads((Path(__file__).resolve().parent / "data" / "spacy_en_tokenizer.json").read_text(encoding="utf-8"))
_PREFIX = re.compile(_DATA["prefix"]).search
_SUFFIX = re.compile(_DATA["suffix"]).search


def top_level_alternatives(pattern: str) -> list[str]:
    """`a|b(c|d)|[|]` -> [`a`, `b(c|d)`, `[|]`]: the branches of a pattern's outermost alternation.

    By hand: `re` parses patterns but gives no public way back from its parse to pattern text."""
    alts, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 2 if pattern.startswith("]", i + 1) else 3 if pattern.startswith("^]", i + 1) else 1
            continue
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            alts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*alts, pattern[start:]]


def _split_suffix_rule(pattern: str, short: int = 8):
    """(search of the branches that match at most `short` characters, that width, search of the others): every
    branch of spaCy's suffix rule ends with `$`, so a short branch can only match in the string's last characters
    and needs no search from each earlier position, which is most of the rule's cost (82 branches at every
    position). None where the rule is not of that shape."""
    _parser = importlib.import_module("re._parser")  # the width of a pattern: no public API has it

    alts = top_level_alternatives(pattern)
    if not all(a.endswith("$") and not a.endswith("\\$") for a in alts):
        return None
    widths = [_parser.parse(a).getwidth()[1] for a in alts]
    near = [a for a, w in zip(alts, widths, strict=True) if w <= short]
    far = [a for a, w in zip(alts, widths, strict=True) if w > short]
    if not near:
        return None
    width = max(w for w in widths if w <= short)
    return re.compile("|".join(near)).search, width, re.compile("|".join(far)).search if far else None


_SUFFIX_SPLIT = _split_suffix_rule(_DATA["suffix"])


def _ascii_starts(pattern: str) -> frozenset[str] | None:
    """The ASCII characters a match of `pattern` can start with (lookarounds skipped), None where unsure: each
    branch's first consumed item must be a literal, a character set or a branch of those."""
    c, _parser = importlib.import_module("re._constants"), importlib.import_module("re._parser")

    def firsts(items) -> set[int] | None:
        for op, av in items:
            if op in (c.ASSERT, c.ASSERT_NOT):
                continue
            if op is c.LITERAL:
                return {av}
            if op is c.IN and all(o in (c.LITERAL, c.RANGE) for o, _ in av):
                return {x for o, v in av for x in ([v] if o is c.LITERAL else range(v[0], v[1] + 1))}
            if op is c.MAX_REPEAT and av[0] >= 1:
                return firsts(av[2])
            if op is c.BRANCH:
                found = [firsts(branch) for branch in av[1]]
                return None if any(f is None for f in found) else {x for f in found if f for x in f}
            return None
        return None

    out: set[int] = set()
    for alt in top_level_alternatives(pattern):
        parsed = _parser.parse(alt)
        if parsed.getwidth()[0] == 0:
            return None  # an empty match splits anywhere
        first = firsts(parsed.data)
        if first is None:
            return None
        out |= first
    return frozenset(chr(x) for x in out if x < 128)


_INFIX_ASCII = _ascii_starts(_DATA["infix"])
# An ASCII string with none of these characters has no infix: no search through each of its positions.
_INFIX_CANDIDATE = re.compile(f"[{re.escape(''.join(sorted(_INFIX_ASCII)))}]").search if _INFIX_ASCII else None


def has_no_infix(string: str) -> bool:
    return _INFIX_CANDIDATE is not None and string.isascii() and not _INFIX_CANDIDATE(string)


def suffix_length(string: str) -> int:
    """The length of the suffix spaCy's rule finds at the end of `string` (0: none); the rule's leftmost match,
    which runs to the end."""
    if _SUFFIX_SPLIT is None:
        m = _SUFFIX(string)
        return m.end() - m.start() if m else 0
    near, width, far = _SUFFIX_SPLIT
    n = len(string)
    # From `pos`, a lookbehind still sees the characters before it, as in a search of the whole string.
    m = near(string, n - width if n > width else 0)
    start = m.start() if m else n
    if far is not None and (m := far(string)) and m.start() < start:
        start = m.start()
    return n - start


_INFIX = re.compile(_DATA["infix"]).finditer
_URL = re.compile(_DATA["url"]).match
_SPECIALS: dict[str, list[str]] = {k: v for k, v in _DATA["specials"].items() if not k.isspace()}
# Special cases the affix rules would split (`''`, `):`, `(=`): spaCy finds them afterwards among the tokens with a
# PhraseMatcher (`_apply_special_cases`); here, among one chunk's tokens.
_MATCHED = frozenset(k for k in _SPECIALS if _PREFIX(k) or _SUFFIX(k) or any(True for _ in _INFIX(k)))
_MATCHED_MAX_TOKENS = 8
# Chunks repeat ("the,", "(see", "value."): like spaCy's own cache, the tokens of each chunk split once are kept,
# up to a bound (emptied when full: a few MB at most in a worker).
_CACHE: dict[str, list[str]] = {}
_CACHE_SIZE = 100_000


def split_words(text: str) -> list[str]:
    """spaCy's English tokens of `text`, whitespace dropped (as datatrove's `split_into_words` returns them)."""
    out: list[str] = []
    append, extend, specials, cache = out.append, out.extend, _SPECIALS, _CACHE
    for chunk in text.split():
        special = specials.get(chunk)
        if special is not None:
            extend(special)
        elif chunk.isalpha():  # no prefix, suffix or infix rule applies to letters alone
            append(chunk)
        else:
            tokens = cache.get(chunk)
            if tokens is None:
                tokens = []
                _split_chunk(chunk, tokens)
                if len(tokens) > 1:
                    tokens = _merge_specials(tokens)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[chunk] = tokens
            extend(tokens)
    return out


def _merge_specials(tokens: list[str]) -> list[str]:
    """Runs of tokens that spell a special case become its tokens: longest first, then earliest, no overlaps."""
    n = len(tokens)
    spans: list[tuple[int, int]] = []
    for i in range(n):
        text = ""
        for j in range(i, min(n, i + _MATCHED_MAX_TOKENS)):
            text += tokens[j]
            if j > i and text in _MATCHED:
                spans.append((i, j + 1))
    if not spans:
        return tokens
    spans.sort(key=lambda s: (s[1] - s[0], -s[0]))  # as spaCy's len_start_cmp, taken from the end
    seen: set[int] = set()
    chosen = []
    for start, end in reversed(spans):
        if start not in seen and end - 1 not in seen:
            chosen.append((start, end))
        seen.update(range(start, end))
    out: list[str] = []
    pos = 0
    for start, end in sorted(chosen):
        out.extend(tokens[pos:start])
        out.extend(_SPECIALS["".join(tokens[start:end])])
        pos = end
    out.extend(tokens[pos:])
    return out


def _split_chunk(string: str, out: list[str]) -> None:
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = 0
    while string and len(string) != last_size:
        if string in _SPECIALS:
            break
        last_size = len(string)
        m = _PREFIX(string)
        pre_len = m.end() - m.start() if m else 0
        if pre_len:
            prefix, minus_pre = string[:pre_len], string[pre_len:]
            if minus_pre and minus_pre in _SPECIALS:
                string = minus_pre
                prefixes.append(prefix)
                break
        suf_len = suffix_length(string[pre_len:])
        if suf_len:
            suffix, minus_suf = string[-suf_len:], string[:-suf_len]
            if minus_suf and minus_suf in _SPECIALS:
                string = minus_suf
                suffixes.append(suffix)
                break
        if pre_len and suf_len and pre_len + suf_len <= len(string):
            string = string[pre_len:-suf_len]
            prefixes.append(prefix)
            suffixes.append(suffix)
        elif pre_len:
            string = minus_pre
            prefixes.append(prefix)
        elif suf_len:
            string = minus_suf
            suffixes.append(suffix)
    out.extend(prefixes)
    if string:
        special = _SPECIALS.get(string)
        if special is not None:
            out.extend(special)
        elif _URL(string):
            out.append(string)
        elif has_no_infix(string):
            out.append(string)
        else:
            start = 0
            for match in _INFIX(string):
                infix_start, infix_end = match.start(), match.end()
                if infix_start == 0:
                    continue
                if infix_start != start:
                    out.append(string[start:infix_start])
                if infix_start != infix_end:
                    out.append(string[infix_start:infix_end])
                start = infix_end
            if string[start:]:
                out.append(string[start:])
    out.extend(reversed(suffixes))
