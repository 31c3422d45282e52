"""Columnar sources, read with pyarrow: Parquet files, and HuggingFace datasets saved with `save_to_disk`.

Parquet is planned and read by row group (the unit a Parquet writer makes independently readable), so
one big file spreads over workers and a worker holds one batch of one row group at a time. A dataset
saved with `datasets.save_to_disk` is a folder of Arrow stream files listed in its `state.json` (or one
such folder per split, listed in `dataset_dict.json`); pyarrow reads those directly, so the `datasets`
library is not needed. Both work on local paths and on s3:// URLs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auralith.errors import InputError
from auralith.sources.documents import Document, FilePiece, InputIssue
from auralith.storage import Files, join

if TYPE_CHECKING:
    import pyarrow as pa

    from auralith.sources.readers import PieceReader

_BATCH_ROWS = 4096


def _arrow_errors() -> tuple[type[Exception], ...]:
    # pyarrow is imported on first use: it adds ~0.3 s to every process that only plans JSONL.
    import pyarrow as pa

    return (pa.ArrowException, ValueError)  # corrupt or truncated files; ArrowIOError is an OSError too


def parquet_pieces(
    files: Files, path: str, source: int, first: int, every: int | Callable[[int], int]
) -> list[FilePiece]:
    """Cut a Parquet file into runs of whole row groups of about `first`, then `every`, compressed bytes (or
    `every(n)` for the run that starts after n bytes of earlier runs)."""
    import pyarrow.parquet as pq

    size_at = every if callable(every) else (lambda offset: every)

    try:
        with files.open_random(path) as fh:
            meta = pq.ParquetFile(fh).metadata
    except _arrow_errors() as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=path) from None
    pieces: list[FilePiece] = []
    start, first_row, row, used, want = 0, 1, 1, 0, max(1, first)
    done = 0  # compressed bytes in `pieces`
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        used += sum(rg.column(c).total_compressed_size for c in range(rg.num_columns))
        row += rg.num_rows
        if used >= want:
            pieces.append(
                FilePiece(
                    path=path,
                    source=source,
                    format="parquet",
                    compression="none",
                    size=used,
                    start=start,
                    end=i + 1,
                    first_line=first_row,
                )
            )
            done += used
            start, first_row, used, want = i + 1, row, 0, max(1, size_at(done))
    if start < meta.num_row_groups or not pieces:
        pieces.append(
            FilePiece(
                path=path,
                source=source,
                format="parquet",
                compression="none",
                size=used,
                start=start,
                end=meta.num_row_groups,
                first_line=first_row,
            )
        )
    return pieces


def is_hf_dataset(files: Files, path: str) -> bool:
    """True when `path` is a folder written by `save_to_disk` (a Dataset or a DatasetDict)."""
    return any(files.exists(join(path, name)) for name in ("state.json", "dataset_dict.json"))


def hf_dataset_files(files: Files, path: str) -> list[str]:
    """The Arrow files of a saved dataset, in row order; a DatasetDict gives its splits in its own order."""
    dict_file = join(path, "dataset_dict.json")
    if files.exists(dict_file):
        splits = _read_json(files, dict_file).get("splits", [])
        return [f for split in splits for f in hf_dataset_files(files, str(join(path, split)))]
    state_file = join(path, "state.json")
    if not files.exists(state_file):
        raise InputError("not a dataset saved with save_to_disk: no state.json or dataset_dict.json", file=path)
    data_files = _read_json(files, state_file).get("_data_files", [])
    return [str(join(path, f["filename"])) for f in data_files]


def _read_json(files: Files, path: str | Path) -> dict:
    try:
        return json.loads(files.read_bytes(path))
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}", file=str(path)) from None


def iter_columnar(reader: PieceReader) -> Iterator[Document | InputIssue]:
    """The rows of a Parquet or Arrow piece as documents; a bad row is an issue naming file, row and field."""
    piece, files = reader.piece, reader.files
    try:
        fh = files.open_random(piece.path) if piece.format == "parquet" else files.open_read(piece.path)
    except OSError as exc:
        yield reader._issue(None, None, "unreadable", f"cannot open: {exc.strerror or exc}")
        return
    row = piece.first_line
    with fh:
        try:
            batches = _parquet_batches(reader, fh) if piece.format == "parquet" else _arrow_batches(reader, fh)
            for batch in batches:
                yield from _rows(reader, batch, row)
                row += batch.num_rows
        except _arrow_errors() as exc:
            kind = "Parquet" if piece.format == "parquet" else "Arrow"
            yield reader._issue(None, None, "truncated", f"not a readable {kind} file: {exc}")
            return
    reader.bytes_read = piece.size
    if row == 1 and piece.start == 0:
        yield reader._issue(None, None, "empty_file", "file has no rows")


def _parquet_batches(reader: PieceReader, fh: Any) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    piece = reader.piece
    pf = pq.ParquetFile(fh)
    names = set(pf.schema_arrow.names)
    columns = [c for c in dict.fromkeys((reader.text_field, reader.id_field)) if c is not None and c in names]
    for rg in range(piece.start, piece.end if piece.end is not None else pf.num_row_groups):
        meta = pf.metadata.row_group(rg)
        if not columns:  # neither field exists: every row is a missing_field issue, counted by row
            yield pa.RecordBatch.from_pydict({"__row": pa.nulls(meta.num_rows)})
        else:
            yield from pf.iter_batches(batch_size=_BATCH_ROWS, row_groups=[rg], columns=columns)
        reader.bytes_read += sum(meta.column(c).total_compressed_size for c in range(meta.num_columns))


def _arrow_batches(reader: PieceReader, fh: Any) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    # save_to_disk writes the Arrow IPC stream format; the random-access file format is accepted too.
    total = max(1, reader.piece.size)
    try:
        stream = pa.ipc.open_stream(fh)
    except pa.ArrowInvalid:
        with reader.files.open_random(reader.piece.path) as random_fh:
            file = pa.ipc.open_file(random_fh)
            for i in range(file.num_record_batches):
                yield file.get_batch(i)
        return
    for batch in stream:
        reader.bytes_read = min(total, reader.bytes_read + batch.nbytes)  # progress only: decoded bytes
        yield batch


def _rows(reader: PieceReader, batch: pa.RecordBatch, first_row: int) -> Iterator[Document | InputIssue]:
    piece, text_field, id_field = reader.piece, reader.text_field, reader.id_field
    schema = batch.schema
    if text_field not in schema.names:
        for k in range(batch.num_rows):
            yield reader._issue(first_row + k, text_field, "missing_field", "no such column")
        return
    texts = batch.column(text_field).to_pylist()
    text_type = str(schema.field(text_field).type)
    ids = batch.column(id_field).to_pylist() if id_field is not None and id_field in schema.names else None
    name = os.path.basename(piece.path)
    for k, text in enumerate(texts):
        line = first_row + k
        if not isinstance(text, str):
            got = "null" if text is None else text_type
            yield reader._issue(line, text_field, "wrong_type", f"expected a string, got {got}")
            continue
        doc_id = ids[k] if ids is not None else None
        doc_id = f"{name}:{line}" if doc_id is None else str(doc_id)
        yield Document(id=doc_id, text=text, source=piece.source, file=piece.path, line=line)
