import gzip
import json
import os
import random
from pathlib import Path

import pytest
import zstandard

from auralith.sources.documents import Document, FilePiece, InputIssue
from auralith.sources.readers import PieceReader, iter_jsonl_zst, write_jsonl_zst
from auralith.storage import Files

files = Files()  # no job: the environment's storage settings

COMPRESS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "zstd": lambda b: zstandard.ZstdCompressor(level=3).compress(b),
}
SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


def write(path: Path, data: bytes, compression: str = "none") -> FilePiece:
    path.write_bytes(COMPRESS[compression](data))
    fmt = "txt" if ".txt" in path.name else "jsonl"
    return FilePiece(path=str(path), source=0, format=fmt, compression=compression, size=path.stat().st_size)


def jsonl(records: list) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def read(piece: FilePiece, text_field: str = "text", id_field: str | None = "id") -> list:
    return list(PieceReader(files, piece, text_field, id_field))


def reasons(items: list) -> list[tuple[str, int | None]]:
    return [(i.reason, i.line) for i in items if isinstance(i, InputIssue)]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_jsonl_round_trip(tmp_path, compression):
    records = [{"id": f"d{i}", "text": f"doc {i} é 文", "other": i} for i in range(500)]
    piece = write(tmp_path / f"a.jsonl{SUFFIX[compression]}", jsonl(records), compression)
    reader = PieceReader(files, piece, "text", "id")
    docs = list(reader)
    assert docs == [
        Document(id=f"d{i}", text=f"doc {i} é 文", source=0, file=piece.path, line=i + 1) for i in range(500)
    ]
    assert reader.bytes_read == piece.size  # on-disk bytes, compressed for .gz/.zst


def test_zstd_reads_across_frames(tmp_path):
    frames = [jsonl([{"text": f"{f}-{i}"} for i in range(10)]) for f in range(3)]
    path = tmp_path / "multi.jsonl.zst"
    path.write_bytes(b"".join(zstandard.ZstdCompressor().compress(f) for f in frames))
    piece = FilePiece(path=str(path), source=0, format="jsonl", compression="zstd", size=path.stat().st_size)
    docs = read(piece)
    assert [d.text for d in docs] == [f"{f}-{i}" for f in range(3) for i in range(10)]
    assert [d.line for d in docs] == list(range(1, 31))


def test_ids(tmp_path):
    records = [{"id": 7, "text": "a"}, {"text": "b"}, {"id": None, "text": "c"}]
    piece = write(tmp_path / "ids.jsonl", jsonl(records))
    assert [d.id for d in read(piece)] == ["7", "ids.jsonl:2", "ids.jsonl:3"]
    assert [d.id for d in read(piece, id_field=None)] == ["ids.jsonl:1", "ids.jsonl:2", "ids.jsonl:3"]
    assert all(d.meta == {} for d in read(piece))


def test_adjacent_byte_ranges_yield_every_document_once(tmp_path):
    records = [{"text": "x" * (i % 13) + str(i)} for i in range(100)]
    data = jsonl(records)
    whole = write(tmp_path / "r.jsonl", data)
    cut = sum(len(json.dumps(r)) + 1 for r in records[:37])  # start of line 38
    first = FilePiece(whole.path, 0, "jsonl", "none", size=cut, start=0, end=cut)
    second = FilePiece(whole.path, 0, "jsonl", "none", size=len(data) - cut, start=cut, first_line=38)
    r1, r2 = PieceReader(files, first, "text", None), PieceReader(files, second, "text", None)
    a, b = list(r1), list(r2)
    assert [d.line for d in a] == list(range(1, 38)) and [d.line for d in b] == list(range(38, 101))
    assert a + b == read(whole, id_field=None)
    assert (r1.bytes_read, r2.bytes_read) == (first.size, second.size)


def test_bad_records_become_issues(tmp_path):
    lines = [
        b'{"text": "good"}',
        b'{"text": "broken',
        b'{"text": "caf\xe9"}',
        b'{"body": "no text field"}',
        b'{"text": 42}',
        b'["not", "an", "object"]',
        b"   \t",
        b"",
        b'{"text": "lone \\ud800 surrogate"}',
        b'{"text": "pair \\ud83d\\ude00 ok"}',
        b'{"text": "last, no newline"}',
    ]
    piece = write(tmp_path / "bad.jsonl", b"\n".join(lines))
    reader = PieceReader(files, piece, "text", "id")
    items = list(reader)
    assert reasons(items) == [
        ("invalid_json", 2),
        ("invalid_utf8", 3),
        ("missing_field", 4),
        ("wrong_type", 5),
        ("wrong_type", 6),
        ("invalid_json", 9),
    ]
    assert [(d.line, d.text) for d in items if isinstance(d, Document)] == [
        (1, "good"),
        (10, "pair \U0001f600 ok"),
        (11, "last, no newline"),
    ]
    issues = {i.line: i for i in items if isinstance(i, InputIssue)}
    assert issues[4].field == "text" and issues[5].field == "text" and issues[6].field is None
    assert "string" in issues[5].message and "array" in issues[6].message
    assert issues[2].file == piece.path and "column" in issues[2].message
    assert reader.blank_lines == 2


def test_utf8_bom_and_crlf(tmp_path):
    piece = write(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"text": "a"}\r\n{"text": "b"}\r\n')
    assert [d.text for d in read(piece)] == ["a", "b"]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("name", ["e.jsonl", "e.txt"])
def test_empty_file(tmp_path, compression, name):
    piece = write(tmp_path / (name + SUFFIX[compression]), b"", compression)
    assert reasons(read(piece)) == [("empty_file", None)]


def test_only_blank_lines_is_not_an_issue(tmp_path):
    piece = write(tmp_path / "blank.jsonl", b"\n  \n\n")
    reader = PieceReader(files, piece, "text", None)
    assert list(reader) == [] and reader.blank_lines == 3


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_truncated_stream_keeps_documents_before_the_cut(tmp_path, compression):
    rng = random.Random(0)
    records = [{"text": "".join(rng.choices("abcdefgh ", k=200))} for _ in range(3000)]
    data = jsonl(records)
    if compression == "zstd":  # several frames, so the cut falls in a later one
        blob = b"".join(
            zstandard.ZstdCompressor().compress(data[i : i + 100_000]) for i in range(0, len(data), 100_000)
        )
    else:
        blob = gzip.compress(data)
    path = tmp_path / f"t.jsonl{SUFFIX[compression]}"
    path.write_bytes(blob[: int(len(blob) * 0.6)])
    piece = FilePiece(str(path), 0, "jsonl", compression, size=path.stat().st_size)
    items = read(piece)
    docs, last = items[:-1], items[-1]
    assert len(docs) > 100 and all(isinstance(d, Document) for d in docs)
    assert [d.text for d in docs] == [r["text"] for r in records[: len(docs)]]
    assert isinstance(last, InputIssue) and (last.reason, last.line) == ("truncated", len(docs) + 1)


def test_corrupt_gzip_is_truncated_issue(tmp_path):
    piece = write(tmp_path / "not.jsonl.gz", b"this is not gzip at all\n")
    piece.compression = "gzip"
    assert reasons(read(piece)) == [("truncated", 1)]


def test_unreadable(tmp_path):
    missing = FilePiece(str(tmp_path / "missing.jsonl"), 0, "jsonl", "none", size=0)
    directory = FilePiece(str(tmp_path), 0, "jsonl", "none", size=0)
    assert reasons(read(missing)) == [("unreadable", None)]
    assert reasons(read(directory)) == [("unreadable", None)]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_txt_is_one_document(tmp_path, compression):
    text = "Line one.\n\nLine two, ünïcode.\n"
    piece = write(tmp_path / f"doc.txt{SUFFIX[compression]}", text.encode(), compression)
    reader = PieceReader(files, piece, "text", "id")
    assert list(reader) == [Document(id=piece.path, text=text, source=0, file=piece.path, line=0)]
    assert reader.bytes_read == piece.size


def test_txt_invalid_utf8_and_truncated(tmp_path):
    assert reasons(read(write(tmp_path / "bad.txt", b"ok \xff\xfe no"))) == [("invalid_utf8", 0)]
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(gzip.compress(os.urandom(50_000))[:20_000])
    assert reasons(read(FilePiece(str(path), 0, "txt", "gzip", size=20_000))) == [("truncated", 0)]


def test_compressed_piece_cannot_be_a_byte_range(tmp_path):
    with pytest.raises(ValueError):
        PieceReader(files, FilePiece("x.jsonl.gz", 0, "jsonl", "gzip", size=10, start=5), "text", None)


def test_write_and_iter_jsonl_zst(tmp_path):
    records = [{"id": str(i), "text": f"τέξτ {i}", "n": i} for i in range(1000)]
    path = tmp_path / "sub" / "part-0.jsonl.zst"
    assert write_jsonl_zst(files, path, iter(records)) == 1000
    assert list(iter_jsonl_zst(files, path)) == records
    assert os.listdir(path.parent) == ["part-0.jsonl.zst"]  # no temp file left behind
    assert write_jsonl_zst(files, tmp_path / "empty.jsonl.zst", []) == 0
    assert list(iter_jsonl_zst(files, tmp_path / "empty.jsonl.zst")) == []


def test_iter_jsonl_zst_raises_on_cut_off_file(tmp_path):
    path = tmp_path / "p.jsonl.zst"
    write_jsonl_zst(files, path, [{"text": str(i) * 50} for i in range(5000)])
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(zstandard.ZstdError):
        list(iter_jsonl_zst(files, path))


def test_failed_write_leaves_no_file(tmp_path):
    def records():
        yield {"text": "a"}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl_zst(files, tmp_path / "x.jsonl.zst", records())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_record_over_the_size_limit_is_an_input_error_and_its_neighbours_are_read(tmp_path, monkeypatch, compression):
    monkeypatch.setattr("auralith.sources.readers.MAX_RECORD_BYTES", 1000)
    data = (
        jsonl([{"id": "a", "text": "before"}])
        + b'{"text": "'
        + b"x" * 5000
        + b'"}\n'
        + jsonl([{"id": "b", "text": "after"}])
        + b'{"text": "'
        + b"y" * 3000
    )  # the last one has no newline
    piece = write(tmp_path / f"big.jsonl{SUFFIX[compression]}", data, compression)
    reader = PieceReader(files, piece, "text", "id")
    items = list(reader)
    assert [d.text for d in items if isinstance(d, Document)] == ["before", "after"]
    assert reasons(items) == [("record_too_large", 2), ("record_too_large", 4)]
    assert "5013 bytes is over the limit of 1000 bytes" in items[1].message
    assert reader.bytes_read == piece.size


def test_record_limit_holds_across_byte_range_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr("auralith.sources.readers.MAX_RECORD_BYTES", 100)
    data = jsonl([{"text": "one"}]) + b'{"text": "' + b"z" * 400 + b'"}\n' + jsonl([{"text": "three"}])
    path = tmp_path / "r.jsonl"
    path.write_bytes(data)
    cut = data.index(b"\n", 20) + 1  # the second piece starts after the long line
    first = FilePiece(path=str(path), source=0, format="jsonl", compression="none", size=cut, start=0, end=cut)
    second = FilePiece(
        path=str(path), source=0, format="jsonl", compression="none", size=len(data) - cut, start=cut, first_line=3
    )
    assert reasons(read(first, id_field=None)) == [("record_too_large", 2)]
    assert [d.text for d in read(second, id_field=None)] == ["three"]


def test_txt_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("auralith.sources.readers.MAX_RECORD_BYTES", 100)
    piece = write(tmp_path / "big.txt", b"w" * 1000)
    reader = PieceReader(files, piece)
    assert reasons(list(reader)) == [("record_too_large", 0)]
    assert reader.bytes_read == piece.size


def test_nul_bytes_deep_nesting_and_huge_numbers(tmp_path):
    data = (
        b'{"text": "raw\x00nul"}\n'
        + jsonl([{"text": "escaped\u0000nul"}])
        + b"[" * 100_000
        + b"\n"
        + b'{"a":' * 50_000
        + b"\n"
        + b'{"text": "ok", "n": '
        + b"9" * 5000
        + b"}\n"
        + b'{"text": "nested ok", "m": '
        + b"[" * 50
        + b"]" * 50
        + b"}\n"
    )
    items = read(write(tmp_path / "h.jsonl", data), id_field=None)
    assert [d.text for d in items if isinstance(d, Document)] == ["escaped\x00nul", "nested ok"]
    assert reasons(items) == [("invalid_json", 1), ("invalid_json", 3), ("invalid_json", 4), ("invalid_json", 5)]
