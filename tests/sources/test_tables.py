import gzip
import random
from pathlib import Path

from auralith.sources.documents import Document, FilePiece, InputIssue
from auralith.sources.readers import PieceReader
from auralith.storage import Files

files = Files()


def read(path: Path, fmt: str = "csv", compression: str = "none", text_field: str = "text", id_field="id") -> list:
    piece = FilePiece(str(path), 0, fmt, compression, path.stat().st_size)  # type: ignore[arg-type]
    return list(PieceReader(files, piece, text_field, id_field))


def test_csv_rows_with_quotes_and_newlines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbfid,text,extra\r\n1,"hello, world",x\r\n2,"two\nlines ""quoted""",y\r\n,no id,z\r\n')
    docs = read(path)
    assert docs == [
        Document("1", "hello, world", 0, str(path), 2),
        Document("2", 'two\nlines "quoted"', 0, str(path), 3),
        Document("a.csv:5", "no id", 0, str(path), 5),  # the row after a two-line row starts on line 5
    ]


def test_tsv_gzip_and_bad_rows_are_issues_with_their_line(tmp_path):
    path = tmp_path / "b.tsv.gz"
    rows = b"text\tid\nfine\td1\nonly one field\n\xff\xfe bad utf8\td3\nlast\td4\n"
    path.write_bytes(gzip.compress(rows))
    items = read(path, "tsv", "gzip")
    assert [(i.text, i.line) for i in items if isinstance(i, Document)] == [("fine", 2), ("last", 5)]
    assert [(i.reason, i.line) for i in items if isinstance(i, InputIssue)] == [("invalid_csv", 3), ("invalid_utf8", 4)]


def test_missing_text_column_cut_off_and_empty_files(tmp_path):
    nocol = tmp_path / "c.csv"
    nocol.write_text("body\nx\ny\n")
    assert [(i.reason, i.line, i.field) for i in read(nocol)] == [
        ("missing_field", 2, "text"),
        ("missing_field", 3, "text"),
    ]
    cut = tmp_path / "d.csv.gz"
    rng = random.Random(0)
    cut.write_bytes(gzip.compress(b"text\n" + b"".join(b"row %d\n" % rng.getrandbits(64) for _ in range(20000)))[:-30])
    items = read(cut, compression="gzip")
    assert isinstance(items[-1], InputIssue) and items[-1].reason == "truncated"
    assert all(isinstance(i, Document) for i in items[:-1]) and len(items) > 100
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert [i.reason for i in read(empty)] == ["empty_file"]
    header_only = tmp_path / "f.csv"
    header_only.write_text("text\n")
    assert read(header_only) == []
