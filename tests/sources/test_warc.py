import gzip
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from auralith.sources.documents import Document, FilePiece, InputIssue, SkippedRecord
from auralith.sources.readers import PieceReader
from auralith.sources.warc import split_warc
from auralith.storage import Files

files = Files()
DATA = Path(__file__).parents[1] / "data"
FIXTURE = DATA / "python-docs-1.warc.gz"


def piece(path: Path, compression: str = "gzip") -> FilePiece:
    return FilePiece(str(path), 0, "warc", compression, path.stat().st_size)  # type: ignore[arg-type]


def summary(items: list) -> Counter:
    out: Counter = Counter()
    for i in items:
        if isinstance(i, Document):
            out["document"] += 1
        elif isinstance(i, SkippedRecord):
            out[f"skipped.{i.reason}"] += 1
        else:
            out[f"input_error.{i.reason}"] += 1
    return out


def test_every_record_is_a_document_a_skip_or_an_issue():
    reader = PieceReader(files, piece(FIXTURE))
    items = list(reader)
    assert summary(items) == {
        "document": 8,
        "skipped.warc_warcinfo": 1,
        "skipped.warc_request": 9,
        "skipped.warc_metadata": 9,
        "skipped.warc_revisit": 1,
        "skipped.not_html": 1,
        "input_error.invalid_record": 1,
        "input_error.truncated": 2,
    }
    assert reader.bytes_read == FIXTURE.stat().st_size
    docs = [i for i in items if isinstance(i, Document)]
    first = docs[0]
    assert first.meta == {
        "url": "https://docs.python.org/3.11/tutorial/appetite.html",
        "date": "2026-11-02T10:00:00Z",
        "html": True,
    }
    assert first.id.startswith("<urn:uuid:") and first.file == str(FIXTURE)
    assert first.text.lstrip().startswith("<!DOCTYPE html>") and "Whetting Your Appetite" in first.text
    # Issues name the file and the byte offset of the broken record, in file order.
    issues = [i for i in items if isinstance(i, InputIssue)]
    assert [i.reason for i in issues] == ["invalid_record", "truncated", "truncated"]
    offsets = [i.line for i in issues]
    assert offsets == sorted(offsets)
    assert all(f"at byte {o}" in i.message for o, i in zip(offsets, issues, strict=True))
    data = FIXTURE.read_bytes()
    assert all(data[o : o + 3] == b"\x1f\x8b\x08" for o in offsets)


@pytest.mark.parametrize("every", [1, 5000, 30000])
def test_split_pieces_read_the_same_records_as_the_whole_file(every):
    pieces = split_warc(files, str(FIXTURE), 0, "gzip", first=every, every=every)
    whole = list(PieceReader(files, piece(FIXTURE)))
    if every < 10000:
        assert len(pieces) > 5
    assert pieces[0].start == 0 and pieces[-1].end is None
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))
    assert sum(p.size for p in pieces) == FIXTURE.stat().st_size
    got = [item for p in pieces for item in PieceReader(files, p)]
    assert got == whole


def _plain(tmp_path: Path) -> tuple[Path, bytes]:
    """python-docs-2 uncompressed, with a page that quotes a WARC header at a line start, and junk at the end."""
    data = b"".join(_members(DATA / "python-docs-2.warc.gz"))
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    page = b"<html><body><pre>\nWARC/1.0\r\nWARC-Type: response\r\n</pre>about WARC files</body></html>"
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record("https://example.org/warc", "response", payload=io.BytesIO(page), http_headers=http)
    )
    data += out.getvalue() + b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 999\r\n\r\ncut"
    path = tmp_path / "plain.warc"
    path.write_bytes(data)
    return path, data


def _members(path: Path) -> list[bytes]:
    data, out = path.read_bytes(), []
    while data:
        d = __import__("zlib").decompressobj(31)
        out.append(d.decompress(data))
        data = d.unused_data
    return out


@pytest.mark.parametrize("every", [1, 20000])
def test_uncompressed_warc_is_framed_split_and_resynced(tmp_path, every):
    path, data = _plain(tmp_path)
    whole = list(PieceReader(files, piece(path, "none")))
    assert summary(whole)["document"] == 9
    assert summary(whole)["input_error.truncated"] == 1
    assert [d.meta["url"] for d in whole if isinstance(d, Document)][-1] == "https://example.org/warc"
    pieces = split_warc(files, str(path), 0, "none", first=every, every=every)
    assert len(pieces) > 3
    for p in pieces:
        assert data[p.start : p.start + 5] == b"WARC/"  # never inside the page that quotes a header
    assert [item for p in pieces for item in PieceReader(files, p)] == whole


def test_wet_conversion_records_are_documents_and_a_file_gzipped_whole_is_read(tmp_path):
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    for i in range(3):
        rec = writer.create_warc_record(
            f"https://example.org/{i}",
            "conversion",
            payload=io.BytesIO(f"plain text {i}".encode()),
            warc_content_type="text/plain",
        )
        writer.write_record(rec)
    path = tmp_path / "x.warc.wet.gz"
    path.write_bytes(gzip.compress(out.getvalue()))  # one member for the whole file
    items = list(PieceReader(files, piece(path)))
    assert [(d.text, d.meta["url"]) for d in items] == [
        (f"plain text {i}", f"https://example.org/{i}") for i in range(3)
    ]
    assert "html" not in items[0].meta


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "e.warc.gz"
    empty.write_bytes(b"")
    assert [i.reason for i in PieceReader(files, piece(empty))] == ["empty_file"]
    gone = FilePiece(str(tmp_path / "gone.warc.gz"), 0, "warc", "gzip", 10)
    assert [i.reason for i in PieceReader(files, gone)] == ["unreadable"]


def test_fixture_licence_ships_with_it():
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in (DATA / "LICENSE-python-docs.txt").read_text()
    assert (DATA / "make_python_docs_warc.py").exists()


def test_http_status_and_the_sniffed_payload_type_decide(tmp_path):
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    page = b"<html><body><p>A page.</p></body></html>"
    for status, ctype, identified in (
        ("200 OK", "text/plain", "text/html"),  # mislabelled by the server, sniffed as HTML
        ("200 OK", "text/html", "application/pdf"),
        ("404 Not Found", "text/html", None),
        ("200 OK", "text/html; charset=latin-1", None),
    ):
        http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
        extra = {"WARC-Identified-Payload-Type": identified} if identified else None
        rec = writer.create_warc_record(
            "https://example.org/", "response", payload=io.BytesIO(page), http_headers=http, warc_headers_dict=extra
        )
        writer.write_record(rec)
    path = tmp_path / "t.warc.gz"
    path.write_bytes(out.getvalue())
    assert summary(list(PieceReader(files, piece(path)))) == {
        "document": 2,
        "skipped.not_html": 1,
        "skipped.http_status": 1,
    }
