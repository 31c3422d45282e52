"""Reading many partition rows fast: their JSON columns fetched as text and decoded in one call per column."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Text, cast


def as_text(columns: Sequence[ColumnElement]) -> list:
    """The columns to select: each JSON one cast to text, so that the driver does not decode it row by row."""
    return [cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in columns]


def decode_rows(columns: Sequence[ColumnElement], rows: Sequence[Sequence[Any]], make: type) -> list:
    """`make(**row)` (a dataclass) per row, its JSON columns (selected with `as_text`) decoded: one `json.loads`
    of a column's texts joined into an array, not one per row. At 100,000 rows the per-call cost of the decoder
    (psycopg and SQLite both call json.loads per value) was most of `status`'s time. The same decoder, the same
    values."""
    names = [c.name for c in columns]
    if not rows:
        return []
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, c in enumerate(columns):
        if isinstance(c.type, JSON):
            values[i] = json.loads("[" + ",".join("null" if v is None else v for v in values[i]) + "]")
    if names == [f.name for f in dataclasses.fields(make)][: len(names)]:
        return [make(*r) for r in zip(*values, strict=True)]  # positionally: 2-3x faster than by keyword
    return [make(**dict(zip(names, r, strict=True))) for r in zip(*values, strict=True)]
