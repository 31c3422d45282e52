"""Reading input pieces (byte ranges of JSONL files, whole .txt files; Parquet and Arrow in `columnar`)
into documents, and the .jsonl.zst files that intermediate partitions are stored in. Paths may be local or
`s3://` URLs, read and written through the job's `Files` (see `auralith.storage`).

Bad records never raise: each becomes an `InputIssue` with a reason the job counts.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard

from auralith.sources.documents import Document, FilePiece, InputIssue, SkippedRecord
from auralith.storage import Files

# One parser on every worker: orjson, where installed, would reject records (NaN, integers over 64 bits)
# that json accepts, so two workers would keep different documents and a resumed job would differ.
_loads = json.loads

_READ_SIZE = 1 << 20
# The largest record (one JSONL line, or one whole .txt file) a worker reads. A longer one is an input error
# (`record_too_large`) skipped in bounded memory, not a 100 MB string held and parsed: no real document is
# that big (length.max_chars removes far shorter ones), and a worker must not die on one hostile line.
MAX_RECORD_BYTES = 32 << 20
_BOM = b"\xef\xbb\xbf"
# What a cut-off or corrupt compressed stream raises; gzip.BadGzipFile is an OSError, so name it explicitly.
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError)
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}
_MISSING = object()


class PieceReader:
    """Iterate a `FilePiece`, read through the job's `files`, as `Document | InputIssue`, in file order.

    `bytes_read` counts on-disk bytes consumed, so it ends equal to `piece.size`: bytes of the range for
    uncompressed files, compressed bytes for .gz/.zst (it moves in read-ahead steps of up to 1 MiB there).
    Blank lines are not documents; they are counted in `blank_lines`. `options` are those of formats that
    need more than a path (`SourceConfig.reader_options`). Document ids come from `id_field`
    when the record has it (not null), else `"{file name}:{line}"`; a .txt document's id is its path.
    """

    def __init__(
        self,
        files: Files,
        piece: FilePiece,
        text_field: str = "text",
        id_field: str | None = None,
        options: dict | None = None,
    ):
        txt_or_compressed = piece.format == "txt" or piece.compression != "none"
        if piece.format != "warc" and txt_or_compressed and (piece.start or piece.end is not None):
            raise ValueError(f"{piece.path}: only uncompressed JSONL and WARC can be read by byte range")
        self.files = files
        self.piece = piece
        self.text_field = text_field
        self.id_field = id_field
        self.options = options or {}  # format-specific: hf_hub's split, subset, streaming
        self.bytes_read = 0
        self.blank_lines = 0
        self._name = os.path.basename(piece.path)

    def __iter__(self) -> Iterator[Document | InputIssue | SkippedRecord]:
        if self.piece.format == "warc":
            from auralith.sources.warc import iter_warc

            yield from iter_warc(self, MAX_RECORD_BYTES)
            return
        if self.piece.format == "hf_hub":
            from auralith.sources.hf_hub import iter_hf_hub

            yield from iter_hf_hub(self)
            return
        if self.piece.format in ("parquet", "arrow"):
            from auralith.sources.columnar import iter_columnar

            yield from iter_columnar(self)
            return
        try:
            fh = self.files.open_read(self.piece.path, self.piece.start, self.piece.end)
        except OSError as exc:
            yield self._issue(None, None, "unreadable", f"cannot open: {exc.strerror or exc}")
            return
        with fh:
            stream = self._decompressed(fh)
            if self.piece.format in ("csv", "tsv"):
                from auralith.sources.tables import iter_table

                yield from iter_table(self, stream, _STREAM_ERRORS, MAX_RECORD_BYTES)
                self.bytes_read = self.piece.size
            elif self.piece.format == "txt":
                yield from self._read_txt(stream)
            else:
                yield from self._read_jsonl(stream)

    def _decompressed(self, fh: BinaryIO) -> BinaryIO:
        comp = self.piece.compression
        if comp == "none":
            return fh  # open_read started it at piece.start
        counted = _CountingFile(fh, self)
        if comp == "gzip":
            return cast(BinaryIO, gzip.GzipFile(fileobj=cast(BinaryIO, counted), mode="rb"))
        return io.BufferedReader(_ZstdFrames(counted), _READ_SIZE)

    def _read_jsonl(self, stream: BinaryIO) -> Iterator[Document | InputIssue]:
        p = self.piece
        counting_here = p.compression == "none"  # else _CountingFile keeps bytes_read
        pos = p.start  # uncompressed offset of the next line
        line = p.first_line
        try:
            for raw, size in _bounded_lines(stream, MAX_RECORD_BYTES):
                if p.end is not None and pos >= p.end:
                    break
                if raw is None:
                    pos += size
                    if counting_here:
                        self.bytes_read = pos - p.start
                    yield self._issue(
                        line,
                        None,
                        "record_too_large",
                        f"record of {size} bytes is over the limit of {MAX_RECORD_BYTES} bytes",
                    )
                    line += 1
                    continue
                if pos == 0 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                    pos += len(_BOM)
                pos += len(raw)
                if counting_here:
                    self.bytes_read = pos - p.start
                item = self._parse(raw, line)
                line += 1
                if item is not None:
                    yield item
        except _STREAM_ERRORS as exc:
            yield self._issue(line, None, "truncated", f"compressed stream is cut off or corrupt: {exc}")
            return
        if p.start == 0 and pos == 0:
            yield self._issue(None, None, "empty_file", "file has no content")

    def _parse(self, raw: bytes, line: int) -> Document | InputIssue | None:
        if not raw or raw.isspace():
            self.blank_lines += 1
            return None
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._issue(line, None, "invalid_utf8", f"invalid UTF-8 at byte {exc.start} of the line")
        try:
            record = _loads(s)
        except RecursionError:
            return self._issue(line, None, "invalid_json", "invalid JSON: nested too deeply")
        except ValueError as exc:  # JSONDecodeError, and int-too-long errors from the json module
            msg = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)[:200]
            return self._issue(line, None, "invalid_json", f"invalid JSON: {msg}")
        if not isinstance(record, dict):
            return self._issue(line, None, "wrong_type", f"expected a JSON object, got {_json_type(record)}")
        text = record.get(self.text_field, _MISSING)
        if text is _MISSING:
            return self._issue(line, self.text_field, "missing_field", "no such field")
        if not isinstance(text, str):
            msg = f"expected a string, got {_json_type(text)}"
            return self._issue(line, self.text_field, "wrong_type", msg)
        doc_id = record.get(self.id_field) if self.id_field is not None else None
        doc_id = f"{self._name}:{line}" if doc_id is None else str(doc_id)
        # The json module turns a lone "\ud800" escape into a str that cannot be encoded as UTF-8 later.
        if b"\\u" in raw and not (_encodable(text) and _encodable(doc_id)):
            return self._issue(line, None, "invalid_json", "invalid JSON: lone surrogate \\u escape")
        return Document(id=doc_id, text=text, source=self.piece.source, file=self.piece.path, line=line)

    def _read_txt(self, stream: BinaryIO) -> Iterator[Document | InputIssue]:
        p = self.piece
        try:
            data = stream.read(MAX_RECORD_BYTES + 1)
            if len(data) > MAX_RECORD_BYTES:
                size = len(data) + sum(len(chunk) for chunk in iter(lambda: stream.read(_READ_SIZE), b""))
                if p.compression == "none":
                    self.bytes_read = size
                msg = f"file of {size} bytes is over the limit of {MAX_RECORD_BYTES} bytes for one document"
                yield self._issue(0, None, "record_too_large", msg)
                return
        except _STREAM_ERRORS as exc:
            yield self._issue(0, None, "truncated", f"compressed stream is cut off or corrupt: {exc}")
            return
        if p.compression == "none":
            self.bytes_read = len(data)
        if not data:
            yield self._issue(None, None, "empty_file", "file has no content")
            return
        data = data.removeprefix(_BOM)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield self._issue(0, None, "invalid_utf8", f"invalid UTF-8 at byte {exc.start}")
            return
        yield Document(id=p.path, text=text, source=p.source, file=p.path, line=0)

    def _issue(self, line: int | None, field: str | None, reason: str, message: str) -> InputIssue:
        return InputIssue(file=self.piece.path, line=line, field=field, reason=reason, message=message)


def _bounded_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[bytes | None, int]]:
    """(line, its size) for each line of `stream`; (None, size) for a line over `limit` bytes, whose rest is
    read and dropped in bounded pieces."""
    while raw := stream.readline(limit + 1):
        if len(raw) <= limit:
            yield raw, len(raw)
            continue
        size = len(raw)
        while not raw.endswith(b"\n"):
            raw = stream.readline(_READ_SIZE)
            if not raw:
                break
            size += len(raw)
        yield None, size


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _CountingFile:
    """Passes reads through to a file and adds their size to `owner.bytes_read` (compressed progress)."""

    def __init__(self, fh: BinaryIO, owner: PieceReader):
        self._fh = fh
        self._owner = owner

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._owner.bytes_read += len(data)
        return data


class _ZstdFrames(io.RawIOBase):
    """Decompresses concatenated zstd frames, raising ZstdError when the input ends inside a frame.

    zstandard's stream_reader(read_across_frames=True) reports a clean EOF for a cut-off file, which would
    silently drop the documents of the lost tail.
    """

    def __init__(self, src: Any):
        self._src = src
        self._dctx = zstandard.ZstdDecompressor()
        self._frame: Any = None  # decompressobj of the current frame
        self._unused = b""  # compressed bytes read past the end of the last frame
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._out:
            if not self._decompress_more():
                return 0
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _decompress_more(self) -> bool:
        data, self._unused = self._unused or self._src.read(_READ_SIZE // 8), b""
        if not data:
            if self._frame is not None and not self._frame.eof:
                raise zstandard.ZstdError("input ends in the middle of a zstd frame")
            return False
        if self._frame is None or self._frame.eof:
            self._frame = self._dctx.decompressobj()
        self._out = memoryview(self._frame.decompress(data))
        if self._frame.eof:
            self._unused = self._frame.unused_data
        return True


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class JsonlZstWriter:
    """Appends records to an open zstd stream; `count` says how many so far."""

    def __init__(self, out: Any):
        self._out = out
        self.count = 0

    def write(self, record: dict) -> None:
        self._out.write(_dumps(record))
        self.count += 1


@contextmanager
def jsonl_zst_writer(files: Files, path: str | Path, level: int = 3) -> Iterator[JsonlZstWriter]:
    """Stream records into a zstd JSON-lines file that appears under `path` only once complete."""
    with files.atomic_write(path) as fh:
        with zstandard.ZstdCompressor(level=level).stream_writer(fh, closefd=False) as out:
            yield JsonlZstWriter(out)


def write_jsonl_zst(files: Files, path: str | Path, records: Iterable[dict], level: int = 3) -> int:
    """Write records as zstd-compressed JSON lines, atomically; return how many were written."""
    with jsonl_zst_writer(files, path, level) as writer:
        for record in records:
            writer.write(record)
    return writer.count


def iter_jsonl_zst(files: Files, path: str | Path) -> Iterator[dict]:
    """Stream the records of a file written by `write_jsonl_zst`. A cut-off file raises ZstdError."""
    with files.open_read(path) as fh:
        for raw in io.BufferedReader(_ZstdFrames(fh), _READ_SIZE):
            if not raw.isspace():
                yield _loads(raw)
