"""Regenerates auralith/steps/data/fineweb2_settings.json from a checkout of FineWeb-2 (Apache-2.0).

    python -m bench.make_language_data /path/to/fineweb-2   # the repository's configs/*.yml

For each ISO 639-1 language that fastText's lid.176 names, the FineWeb-2 config of that language in its main
script (the one with the most words in fineweb2-language-distribution.csv; the individual language FineWeb-2
uses for a macrolanguage: cmn for zh, arb for ar, ...). Only the keys Auralith applies are kept;
`language_score` is left out: it is a GlotLID score, not a lid.176 one.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent.parent / "auralith" / "steps" / "data" / "fineweb2_settings.json"
ISO = Path("/usr/share/iso-codes/json/iso_639-3.json")
MACRO = {
    "zh": "cmn",
    "ar": "arb",
    "fa": "pes",
    "ms": "zsm",
    "no": "nob",
    "et": "ekk",
    "lv": "lvs",
    "uz": "uzn",
    "sw": "swh",
    "sq": "als",
    "mn": "khk",
    "ne": "npi",
    "or": "ory",
    "ps": "pbt",
    "az": "azj",
    "ku": "kmr",
    "yi": "ydd",
    "qu": "quy",
    "gn": "gug",
    "om": "gaz",
    "mg": "plt",
    "kr": "knc",
    "ff": "fuc",
    "oc": "oci",
    "lb": "ltz",
    "ha": "hau",
    "pa": "pan",
    "sc": "srd",
}
KEYS = (
    "dup_line_frac",
    "top_n_grams",
    "dup_n_grams",
    "line_punct_thr",
    "new_line_ratio",
    "max_avg_word_length",
    "min_avg_word_length",
    "max_non_alpha_words_ratio",
    "stopwords",
)


def main(repo: Path) -> None:
    iso = json.loads(ISO.read_text())["639-3"]
    two_to_three = {e["alpha_2"]: e["alpha_3"] for e in iso if "alpha_2" in e}
    two_to_three.update(MACRO)
    words: dict[str, int] = {}
    with open(repo / "fineweb2-language-distribution.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "train" and not row["subset"].endswith("_removed") and row["words"].isdigit():
                words[row["subset"]] = int(row["words"])
    configs = {p.stem: p for p in (repo / "configs").glob("*.yml")}
    table = {}
    for two, three in sorted(two_to_three.items()):
        names = [n for n in configs if n.split("_")[0] == three]
        if not names:
            continue
        name = max(names, key=lambda n: words.get(n, 0))
        cfg = yaml.safe_load(io.StringIO(configs[name].read_text()))
        entry = {k: cfg[k] for k in KEYS if k in cfg}
        entry["fineweb2_config"] = name
        table[two] = entry
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8")
    print(f"{len(table)} languages -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
