"""CSV and TSV sources: one document per row, its text in the `text_field` column (named by the header row).

Read with the standard library's csv module (RFC 4180 quoting, fields spanning lines), streaming, so a
worker holds one row at a time. A file is one piece: a byte offset cannot tell whether it is inside a quoted
field, so CSV files are not cut into partitions (compress or split big ones). A row's `line` is the physical
line it starts on (the header is line 1), so `file:line` finds it in an editor.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from auralith.sources.documents import Document, InputIssue

if TYPE_CHECKING:
    from auralith.sources.readers import PieceReader


def iter_table(
    reader: PieceReader, stream: BinaryIO, stream_errors: tuple[type[Exception], ...], max_field_bytes: int
) -> Iterator[Document | InputIssue]:
    """The rows of a (decompressed) CSV or TSV stream as documents; bad rows are issues naming file and line.
    `stream_errors` are what a cut-off compressed stream raises: the rows before it are kept."""
    piece = reader.piece
    # A field over the record limit is a csv.Error (record_too_large) instead of a 100 MB string.
    csv.field_size_limit(max_field_bytes)
    # surrogateescape: invalid UTF-8 reaches us as lone surrogates, and becomes an issue for its row only.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    rows = csv.reader(text, dialect="excel-tab" if piece.format == "tsv" else "excel", strict=True)
    name = os.path.basename(piece.path)
    try:
        header = next(rows, None)
    except csv.Error as exc:
        yield reader._issue(1, None, "invalid_csv", f"bad header row: {exc}")
        return
    except stream_errors as exc:
        yield reader._issue(1, None, "truncated", f"compressed stream is cut off or corrupt: {exc}")
        return
    if header is None:
        yield reader._issue(None, None, "empty_file", "file has no header row")
        return
    column = {h: i for i, h in reversed(list(enumerate(header)))}  # the first of two same-named columns
    text_at = column.get(reader.text_field)
    id_at = column.get(reader.id_field) if reader.id_field is not None else None
    start = rows.line_num + 1  # the line the next row starts on
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            reason = "record_too_large" if "field larger" in str(exc) else "invalid_csv"
            yield reader._issue(start, None, reason, f"bad CSV row: {exc}")
            start = rows.line_num + 1
            continue
        except stream_errors as exc:
            yield reader._issue(start, None, "truncated", f"compressed stream is cut off or corrupt: {exc}")
            return
        line, start = start, rows.line_num + 1
        if not row:
            reader.blank_lines += 1
            continue
        if text_at is None:
            yield reader._issue(line, reader.text_field, "missing_field", "no such column in the header row")
            continue
        if len(row) != len(header):
            msg = f"row has {len(row)} fields, the header has {len(header)}"
            yield reader._issue(line, None, "invalid_csv", msg)
            continue
        value = row[text_at]
        doc_id = row[id_at] if id_at is not None and row[id_at] != "" else f"{name}:{line}"
        if not _valid(value) or not _valid(doc_id):
            yield reader._issue(line, None, "invalid_utf8", "invalid UTF-8 in the row")
            continue
        yield Document(id=doc_id, text=value, source=piece.source, file=piece.path, line=line)


def _valid(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
