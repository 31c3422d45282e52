"""Build the demo corpus in examples/data from text every Python install ships: stdlib docstrings.

Run once (`python examples/make_demo_corpus.py`); the output is committed. It includes exact
duplicates, whitespace variants and very short documents, so the demo shows every removal reason.
"""

from __future__ import annotations

import gzip
import importlib
import inspect
import json
import pkgutil
import warnings
from pathlib import Path

OUT = Path(__file__).with_name("data")
MODULES = sorted(m.name for m in pkgutil.iter_modules() if m.module_finder.path.endswith("lib/python3.11")
                 and not m.name.startswith("_") and m.name not in {"antigravity", "this", "idlelib", "turtledemo"})


def docstrings() -> list[tuple[str, str]]:
    docs = []
    warnings.simplefilter("ignore")
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        for attr, obj in [(name, mod), *sorted(vars(mod).items())]:
            doc = inspect.getdoc(obj) if (obj is mod or getattr(obj, "__module__", None) == name) else None
            if doc and len(doc) > 40:
                docs.append((f"{name}.{attr}" if obj is not mod else name, doc))
    return docs


def main() -> None:
    docs = docstrings()
    OUT.mkdir(exist_ok=True)
    half = len(docs) // 2
    first = [{"id": f"py-{i:05d}", "text": t, "origin": n} for i, (n, t) in enumerate(docs[:half])]
    second = [{"id": f"py-{i + half:05d}", "text": t, "origin": n} for i, (n, t) in enumerate(docs[half:])]
    # Exact duplicates across files, a whitespace variant that normalises to a duplicate, short documents.
    second += [{"id": f"dup-{i:03d}", "text": first[i * 7]["text"]} for i in range(40)]
    second += [{"id": f"ws-{i:03d}", "text": "  " + first[i * 11]["text"].replace(" ", "   ") + "\n\n\n"}
               for i in range(20)]
    first += [{"id": f"short-{i:03d}", "text": w} for i, w in enumerate(["ok", "yes", "see above", "TODO"])]
    with open(OUT / "stdlib-a.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in first)
    with gzip.open(OUT / "stdlib-b.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in second)
    notes = OUT / "notes"
    notes.mkdir(exist_ok=True)
    for name in ("json", "csv", "sqlite3", "zipfile"):
        (notes / f"{name}.txt").write_text(inspect.getdoc(importlib.import_module(name)) + "\n", encoding="utf-8")
    print(f"{len(first)} + {len(second)} documents, {len(list(notes.iterdir()))} notes in {OUT}")


if __name__ == "__main__":
    main()
