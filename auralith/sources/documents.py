"""The Document type, what a reader yields for a bad record, and the partition input reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Format = Literal["jsonl", "txt", "parquet", "arrow"]
Compression = Literal["none", "gzip", "zstd"]


@dataclass(slots=True)
class Document:
    """One text document as read from a source. `line` is 1-based (0 for a whole-file .txt document)."""

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
class FilePiece:
    """A byte range of one input file. `start` is aligned to a line start; `end` is exclusive (None = EOF).

    Only uncompressed JSONL is split into several pieces; compressed and .txt files are one piece each.
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
