"""The Document type, what a reader yields for a bad record, and the partition input reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Format = Literal["jsonl", "txt", "parquet", "arrow", "warc", "csv", "tsv", "hf_hub"]
Compression = Literal["none", "gzip", "zstd"]


@dataclass(slots=True)
class Document:
    """One text document as read from a source. `line` is 1-based (0 for a whole-file .txt document; the
    record's byte offset for WARC). `meta` holds what a source knows besides the text (a WARC page's `url`,
    `date`, and `html: True` while `text` is still HTML)."""

    id: str
    text: str
    source: int
    file: str
    line: int
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class InputIssue:
    """A record that could not become a document; counted under `input_error.{reason}`, never retried.

    reason is one of: invalid_json, invalid_utf8, missing_field, wrong_type, empty_file, truncated,
    unreadable.
    """

    file: str
    line: int | None
    field: str | None
    reason: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class SkippedRecord:
    """A well-formed record that is not a document (a WARC request, a non-HTML response); counted under
    `skipped.{reason}`. `line` is where it is (a WARC record's byte offset)."""

    file: str
    line: int
    reason: str


@dataclass(slots=True)
class FilePiece:
    """A byte range of one input file. `start` is aligned to a line start; `end` is exclusive (None = EOF).

    Only uncompressed JSONL and WARC (gzipped per record or not) are split into several pieces; other
    compressed and .txt files are one piece each. A WARC piece's `start` and `end` are record starts.
    Parquet pieces count row groups instead of bytes: row groups [start, end), `first_line` the 1-based
    row number of the first row, `size` their compressed bytes. An Arrow file (HF dataset) is one piece.
    """

    path: str
    source: int
    format: Format
    compression: Compression
    size: int
    start: int = 0
    end: int | None = None
    first_line: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FilePiece:
        return cls(**d)
