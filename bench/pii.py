"""PII per type: recall and precision on the labelled set the tests build, before/after and vs datatrove.

    pip install -e ".[dev,bench]"
    python bench/pii.py                       # before = the commit this work started from
    python bench/pii.py --before <git ref>    # another `auralith/steps/pii.py` to compare
    python bench/pii.py --regions US,DE       # phone regions to try besides the default

Set: tests/steps/pii_set.py (real Debian Packages/changelog lines and sign-offs, real sentences carrying
generated values, the hand-written cases). "before" loads `auralith/steps/pii.py` from a git ref into a
throwaway module. datatrove's PIIFormatter only finds e-mails and IPs; its other types show as n/a.
Then a scan of this machine's real version-heavy text (all `changelog.Debian` files, dpkg's status and the
apt Packages lists that lz4 decompresses), listing every non-email span found there: the goal is none.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.steps.pii_set import TAGS, TYPES, build_cases, precision_recall, score  # noqa: E402

BEFORE = "608d036"  # main when this work started (issue 19)


def _old_redactor(ref: str):
    try:
        src = subprocess.run(
            ["git", "show", f"{ref}:auralith/steps/pii.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType("pii_before")
    sys.modules["pii_before"] = mod  # dataclasses look their module up
    exec(compile(src, "pii_before.py", "exec"), mod.__dict__)
    from auralith.config.quality import PIIConfig

    red = mod.PIIRedactor(PIIConfig())

    def redact(text: str) -> str:
        return red(text)[0]

    redact.counts = red.counts  # type: ignore[attr-defined]
    return redact


def _new_redactor(regions: list[str] | None = None):
    from auralith.config.quality import PIIConfig
    from auralith.steps.pii import PIIRedactor

    cfg = PIIConfig() if regions is None else PIIConfig(phone_regions=regions)
    red = PIIRedactor(cfg)
    return lambda text: red(text)[0]


def _datatrove():
    from datatrove.pipeline.formatters import PIIFormatter

    fmt = PIIFormatter(email_replacement=TAGS["email"], ip_replacement=TAGS["ip"])
    return fmt.format


def _cell(row: list[int] | None) -> str:
    if row is None:
        return "n/a"
    p, r = precision_recall(*row)
    return f"{p:.3f} / {r:.3f}"


def _real_text() -> list[str]:
    docs = [
        gzip.open(p).read().decode("utf-8", "replace")
        for p in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz"))
    ]
    if Path("/var/lib/dpkg/status").exists():
        docs += Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n")
    for path in glob.glob("/var/lib/apt/lists/*_Packages.lz4"):
        out = subprocess.run(["lz4", "-dc", path], capture_output=True, check=False).stdout
        docs += out.decode("utf-8", "replace").split("\n\n")
    return docs


def _throughput(args: argparse.Namespace) -> None:
    """MB of real documentation per CPU second, before and after, alternating rounds in this one process."""
    from bench.corpus import real_text_documents

    docs = real_text_documents(args.mb)
    mb = sum(len(d.encode()) for d in docs) / 2**20
    reds = {"before": _old_redactor(args.before), "after": _new_redactor()}
    spent = {k: 0.0 for k, r in reds.items() if r is not None}
    for _ in range(args.rounds):
        for name in spent:
            red = reds[name]
            assert red is not None
            t = time.process_time()
            for d in docs:
                red(d)
            spent[name] += time.process_time() - t
    rates = ", ".join(f"{k} {mb * args.rounds / v:.1f} MB/s" for k, v in spent.items())
    print(f"throughput on {mb:.1f} MB of this machine's documentation, {args.rounds} rounds: {rates} (per core)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--regions", default="", help="comma-separated phone region lists to compare, ';' between lists")
    ap.add_argument("--no-scan", action="store_true", help="skip the scan of real Debian text")
    ap.add_argument("--mb", type=float, default=2.0, help="MB of documentation for the throughput line")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cases = build_cases()
    pos = {k: sum(c.kind == k for c in cases) for k in TYPES}
    print(f"labelled set: {len(cases)} texts; positives {pos}; hard negatives {sum(c.kind is None for c in cases)}")
    columns: dict[str, dict[str, list[int]] | None] = {}
    cpu: dict[str, float] = {}
    for name, make in [
        ("before", lambda: _old_redactor(args.before)),
        ("after", _new_redactor),
        ("datatrove", _datatrove),
    ]:
        red = make()
        if red is None:
            columns[name] = None
            continue
        t = time.process_time()
        columns[name] = score(cases, red)
        cpu[name] = time.process_time() - t
    for lst in filter(None, args.regions.split(";")):
        red = _new_redactor([r for r in lst.split(",") if r])
        columns[f"after, phone regions {lst or '(none)'}"] = score(cases, red)
    names = list(columns)
    print("\nprecision / recall per type (a case is right when exactly its spans became its type's tag)\n")
    print("| type | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in TYPES:
        cells = []
        for name in names:
            table = columns[name]
            row = table.get(kind) if table else None
            if name == "datatrove" and kind not in ("email", "ip"):
                row = None
            cells.append(_cell(row))
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\nCPU seconds over the set: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    _throughput(args)
    if args.no_scan:
        return
    from auralith.config.quality import PIIConfig
    from auralith.steps.pii import PIIRedactor

    red = PIIRedactor(PIIConfig())
    docs = _real_text()
    t = time.process_time()
    found: dict[str, int] = {}
    shown = 0
    for doc in docs:
        for start, end, kind in red.find(doc):
            found[kind] = found.get(kind, 0) + 1
            if kind != "email" and shown < 40:
                shown += 1
                print(f"  {kind}: {doc[max(0, start - 30) : start]!r} [{doc[start:end]!r}] {doc[end : end + 15]!r}")
    mb = sum(map(len, docs)) / 2**20
    print(
        f"\nreal Debian text ({len(docs)} documents, {mb:.1f} MB, {time.process_time() - t:.1f} CPU s): found {found}"
    )
    old = _old_redactor(args.before)
    if old is not None:
        for doc in docs:
            old(doc)
        print(f"before ({args.before}) on the same text: found {dict(old.counts)}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
