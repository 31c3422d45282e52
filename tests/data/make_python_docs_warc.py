"""Build tests/data/python-docs-*.warc.gz from the HTML of Python's documentation (PSF licence, see
LICENSE-python-docs.txt), as a crawler would have written it: per-record gzip members, warcinfo first, then
request/response/metadata per page, a stylesheet (a response that is not HTML), and a revisit.

Deterministic (fixed dates, record ids from the URL), so rebuilding gives the same bytes:

    apt-get download python3.11-doc && dpkg-deb -x python3.11-doc_*.deb /tmp/pydoc
    python tests/data/make_python_docs_warc.py /tmp/pydoc/usr/share/doc/python3.11/html

Needs warcio (the writer; Auralith reads with fastwarc, so the fixture is not read by the library that wrote it).
The first file ends with broken records, as a cut-off crawl would: a member that is not a WARC record, a
record whose block is shorter than its Content-Length, and a gzip member cut off in the middle.
"""

from __future__ import annotations

import gzip
import io
import sys
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).parent
BASE = "https://docs.python.org/3.11/"
DATE = "2026-11-02T10:00:00Z"
PAGES = [
    [
        "tutorial/appetite.html",
        "tutorial/interpreter.html",
        "tutorial/introduction.html",
        "tutorial/controlflow.html",
        "tutorial/datastructures.html",
        "tutorial/modules.html",
        "tutorial/inputoutput.html",
        "tutorial/errors.html",
    ],
    [
        "tutorial/classes.html",
        "tutorial/stdlib.html",
        "tutorial/stdlib2.html",
        "tutorial/venv.html",
        "tutorial/whatnow.html",
        "tutorial/interactive.html",
        "tutorial/floatingpoint.html",
        "tutorial/appendix.html",
    ],
]


def _id(name: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>"


def _record(
    writer: WARCWriter,
    kind: str,
    url: str,
    body: bytes,
    http: StatusAndHeaders | None = None,
    content_type: str | None = None,
    extra: dict | None = None,
) -> None:
    headers = {"WARC-Date": DATE, "WARC-Record-ID": _id(f"{kind}:{url}"), **(extra or {})}
    rec = writer.create_warc_record(
        url,
        kind,
        payload=io.BytesIO(body),
        http_headers=http,
        warc_content_type=content_type,
        warc_headers_dict=headers,
    )
    writer.write_record(rec)


def _page(writer: WARCWriter, url: str, body: bytes, mime: str) -> None:
    req = StatusAndHeaders(
        "GET /" + url.split("/", 3)[3] + " HTTP/1.1", [("Host", "docs.python.org")], is_http_request=True
    )
    _record(writer, "request", url, b"", http=req)
    http = StatusAndHeaders("200 OK", [("Content-Type", mime), ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    # Common Crawl names the sniffed payload type; datatrove's WarcReader filters on it.
    _record(writer, "response", url, body, http=http, extra={"WARC-Identified-Payload-Type": mime.split(";")[0]})
    _record(writer, "metadata", url, b"fetchTimeMs: 42\r\n", content_type="application/warc-fields")


def build(html_root: Path, index: int, pages: list[str]) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    info = writer.create_warcinfo_record(f"python-docs-{index}.warc.gz", {"software": "make_python_docs_warc.py"})
    info.rec_headers.replace_header("WARC-Date", DATE)
    info.rec_headers.replace_header("WARC-Record-ID", _id(f"warcinfo:{index}"))
    writer.write_record(info)
    for page in pages:
        _page(writer, BASE + page, (html_root / page).read_bytes(), "text/html; charset=utf-8")
    if index == 1:
        _page(writer, BASE + "_static/pygments.css", (html_root / "_static/pygments.css").read_bytes(), "text/css")
        # The same page fetched again, unchanged: a crawler writes a revisit with no payload.
        _record(
            writer,
            "revisit",
            BASE + pages[0],
            b"",
            extra={
                "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                "WARC-Refers-To-Target-URI": BASE + pages[0],
            },
        )
        # Broken records, as a damaged crawl has them.
        out.write(
            gzip.compress(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>not a WARC record</html>", mtime=0)
        )
        short = (
            b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: "
            + DATE.encode()
            + b"\r\nWARC-Record-ID: "
            + _id("short").encode()
            + b"\r\nWARC-Target-URI: "
            + BASE.encode()
            + b"short.html\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: 5000\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>cut short</body></html>"
        )
        out.write(gzip.compress(short, mtime=0))
        last = io.BytesIO()
        WARCWriter(last, gzip=True).write_record(
            writer.create_warc_record(
                BASE + "cut.html",
                "response",
                payload=io.BytesIO((html_root / pages[1]).read_bytes()),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": DATE, "WARC-Record-ID": _id("cut")},
            )
        )
        out.write(last.getvalue()[: len(last.getvalue()) // 2])  # the file ends in the middle of a member
    return out.getvalue()


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for i, pages in enumerate(PAGES, start=1):
        (HERE / f"python-docs-{i}.warc.gz").write_bytes(build(root, i, pages))
