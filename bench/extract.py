"""WARC -> main text: Auralith against datatrove's WarcReader + Trafilatura, on the same WARC, in one run.

    pip install -e ".[bench]"
    python bench/extract.py [--html-root /usr/share/doc/python3.11/html] [--rounds 2]

The WARC is built from real HTML pages: Python's documentation when `--html-root` names its folder (Debian's
python3.11-doc package installs it; `apt-get download python3.11-doc` and `dpkg-deb -x` it anywhere), else
the 8 tutorial pages of the test fixture's second file. It is written as a crawler writes it (tests/data/
make_python_docs_warc.py: a gzip member per record, request/response/metadata per page).

Rows, each over the whole WARC in this process (one core), rounds alternating, the best round shown:
- auralith: the process stage's reader and web step (`PieceReader` -> fastwarc, HTML -> resiliparse).
- auralith+trafilatura: the same with `preprocessing.html.extractor: trafilatura`.
- datatrove: `WarcReader` (warcio) -> `Trafilatura` (its defaults; the extraction runs in its sandbox
  subprocess, whose CPU time is counted too).
MB/s per core = on-disk MB of the WARC / CPU seconds (this process plus finished children).

A second table times the WARC readers alone (every response payload read, no extraction): fastwarc's and
warcio's own iterators, and Auralith's reader (its record framing, then fastwarc per record).
`--only readers` or `--only extract` runs one table.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PAGES = REPO / "tests" / "data"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build_warc(html_root: Path | None, out: Path, max_pages: int | None = None) -> tuple[int, float]:
    """Write the bench WARC; return (pages, MB of HTML)."""
    import io

    from warcio.warcwriter import WARCWriter

    sys.path.insert(0, str(FIXTURE_PAGES))
    from make_python_docs_warc import BASE, _page  # type: ignore[import-not-found]

    if html_root is not None:
        pages = {str(p.relative_to(html_root)): p.read_bytes() for p in sorted(html_root.rglob("*.html"))}
        pages = {k: v for k, v in pages.items() if not k.startswith("_")}
        if max_pages and len(pages) > max_pages:  # spread over the whole documentation, not its first folder
            step = len(pages) / max_pages
            keys = list(pages)
            pages = {keys[int(i * step)]: pages[keys[int(i * step)]] for i in range(max_pages)}
    else:  # the fixture's pages, as their WARC holds them
        pages = {}
        for f in sorted(FIXTURE_PAGES.glob("python-docs-2.warc.gz")):
            from warcio.archiveiterator import ArchiveIterator

            with open(f, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type == "response":
                        pages[rec.rec_headers.get_header("WARC-Target-URI")] = rec.content_stream().read()
        pages = {k.removeprefix(BASE): v for k, v in pages.items()}
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for name, body in pages.items():
        _page(writer, BASE + name, body, "text/html; charset=utf-8")
    out.write_bytes(buf.getvalue())
    return len(pages), sum(map(len, pages.values())) / 2**20


def run_auralith(path: Path, extractor: str) -> tuple[int, int]:
    from auralith.config.web import HtmlConfig, UrlFilterConfig
    from auralith.sources.documents import Document, FilePiece
    from auralith.sources.readers import PieceReader
    from auralith.steps.web import WebSteps
    from auralith.storage import Files

    web = WebSteps(UrlFilterConfig(), HtmlConfig(extractor=extractor))  # type: ignore[arg-type]
    piece = FilePiece(str(path), 0, "warc", "gzip", path.stat().st_size)
    docs = chars = 0
    for item in PieceReader(Files(), piece):
        if isinstance(item, Document):
            text, removed = web(item.text, item.meta)
            docs += removed is None
            chars += len(text)
    return docs, chars


def run_datatrove(path: Path) -> tuple[int, int]:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    reader = WarcReader(str(path.parent), glob_pattern=path.name)
    # timeout: datatrove's default of 1 s (wall clock) drops the long pages on a loaded machine; the rows
    # must compare the same documents.
    extractor = Trafilatura(timeout=600)
    docs = chars = 0
    for doc in extractor.run(reader.run(None, rank=0, world_size=1)):
        if doc.text:
            docs += 1
            chars += len(doc.text)
    return docs, chars


def read_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(path, "rb") as fh:
        return sum(
            len(r.reader.read()) for r in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True)
        )


def read_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        return sum(len(r.content_stream().read()) for r in ArchiveIterator(fh) if r.rec_type == "response")


def read_auralith(path: Path) -> int:
    from auralith.sources.documents import Document, FilePiece
    from auralith.sources.readers import PieceReader
    from auralith.storage import Files

    piece = FilePiece(str(path), 0, "warc", "gzip", path.stat().st_size)
    return sum(len(d.text) for d in PieceReader(Files(), piece) if isinstance(d, Document))


def bench_readers(warc: Path, mb: float, rounds: int) -> None:
    runs = {"fastwarc": read_fastwarc, "warcio": read_warcio, "auralith reader": read_auralith}
    best: dict[str, float] = {}
    for _ in range(max(3, rounds)):
        for name, fn in runs.items():
            cpu = _cpu()
            fn(warc)
            best[name] = min(best.get(name, float("inf")), _cpu() - cpu)
    print(f"WARC readers: every response payload read, {mb:.1f} MB .warc.gz, best of {max(3, rounds)} rounds")
    print(f"{'':<22} {'CPU s':>7} {'MB/s per core':>14}")
    for name, used in best.items():
        print(f"{name:<22} {used:>7.3f} {mb / used:>14.1f}")
    print()


def measure(html_root: Path | None, pages: int | None, rounds: int) -> dict:
    """The extraction rows' figures: {name: {"cpu", "mbps", "documents", "chars"}, "pages", "mb", "ratio"}."""
    from auralith.config.web import HtmlConfig
    from auralith.steps.web import HtmlExtractor

    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "bench.warc.gz"
        n_pages, html_mb = build_warc(html_root, warc, pages)
        mb = warc.stat().st_size / 2**20
        for extractor in ("resiliparse", "trafilatura"):  # warm-up: imports (datatrove's sandbox has its own)
            HtmlExtractor(HtmlConfig(extractor=extractor))("<html><body><p>Warm up.</p></body></html>")
        runs = {
            "auralith": lambda: run_auralith(warc, "resiliparse"),
            "auralith+trafilatura": lambda: run_auralith(warc, "trafilatura"),
            "datatrove": lambda: run_datatrove(warc),
        }
        best: dict[str, dict] = {}
        for _ in range(rounds):
            for name, fn in runs.items():
                cpu = _cpu()
                docs, chars = fn()
                used = _cpu() - cpu
                if name not in best or used < best[name]["cpu"]:
                    best[name] = {"cpu": used, "mbps": mb / used, "documents": docs, "chars": chars}
    return {
        **best,
        "pages": n_pages,
        "mb": mb,
        "html_mb": html_mb,
        "rounds": rounds,
        "ratio": best["datatrove"]["cpu"] / best["auralith"]["cpu"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html-root", type=Path, default=None, help="a folder of HTML pages (Python's docs)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pages", type=int, default=None, help="at most this many pages, spread over the folder")
    ap.add_argument("--only", choices=["readers", "extract"], default=None)
    args = ap.parse_args()
    if args.only != "extract":
        with tempfile.TemporaryDirectory() as tmp:
            warc = Path(tmp) / "bench.warc.gz"
            build_warc(args.html_root, warc, args.pages)
            bench_readers(warc, warc.stat().st_size / 2**20, args.rounds)
    if args.only == "readers":
        return
    r = measure(args.html_root, args.pages, args.rounds)
    load = os.getloadavg()
    print(
        f"WARC -> main text: {r['pages']} pages, {r['mb']:.1f} MB WARC ({r['html_mb']:.1f} MB HTML), 1 core each, "
        f"best of {r['rounds']} alternating rounds; load {load[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'':<22} {'CPU s':>7} {'MB/s per core':>14} {'pages/s':>8} {'documents':>10} {'chars out':>10}")
    for name in ("auralith", "auralith+trafilatura", "datatrove"):
        x = r[name]
        pages_s = r["pages"] / x["cpu"]
        print(f"{name:<22} {x['cpu']:>7.2f} {x['mbps']:>14.2f} {pages_s:>8.1f} {x['documents']:>10} {x['chars']:>10,}")
    print(f"auralith is {r['ratio']:.1f}x datatrove's speed per core (datatrove CPU s / auralith CPU s)")


if __name__ == "__main__":
    main()
