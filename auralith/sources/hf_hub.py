"""A HuggingFace dataset by name (`format: hf_hub`), read through the `datasets` library.

Streaming by default, so a big dataset is read row by row and never copied to disk first. Where the hub
cannot be reached (no network, `HF_HUB_OFFLINE=1`) streaming cannot start, so the dataset is loaded from the
local `datasets` cache instead (`~/.cache/huggingface`, `HF_HOME`), as `load_dataset` does offline; a name
in neither place fails the partition with an `InputError` naming the dataset. A local folder of data files
(`load_dataset("path/to/folder")`) works as a name too. `max_samples` ends the piece after that many rows:
the planner puts it in `piece.end`. A dataset is one piece (one partition): rows have no byte offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from auralith.errors import InputError
from auralith.sources.documents import Document, InputIssue

if TYPE_CHECKING:
    from auralith.sources.readers import PieceReader


def load_hf_dataset(name: str, subset: str | None, split: str, streaming: bool) -> Iterable[dict[str, Any]]:
    """The rows of one split of a dataset on the hub (streamed), or from the local cache when offline."""
    try:
        import datasets
    except ImportError:
        raise InputError("format hf_hub needs the datasets library: pip install 'auralith[hf]'", file=name) from None
    first: Exception | None = None
    if streaming:
        try:
            return datasets.load_dataset(name, subset, split=split, streaming=True)
        except (ConnectionError, OSError, ValueError) as exc:  # the hub unreachable, or offline mode
            first = exc
    try:
        return datasets.load_dataset(name, subset, split=split)
    except Exception as exc:  # noqa: BLE001 - every failure to find the dataset is the user's to fix
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if first is not None:
            why = f"streaming: {type(first).__name__}: {str(first).splitlines()[0][:200]}; from the cache: {why}"
        raise InputError(f"cannot load the HuggingFace dataset (split {split!r}): {why}", file=name) from None


def iter_hf_hub(reader: PieceReader) -> Iterator[Document | InputIssue]:
    """Rows 1..`piece.end` (all when None) of the dataset as documents; a bad row is an issue naming it."""
    piece, opts = reader.piece, reader.options
    rows = load_hf_dataset(piece.path, opts.get("subset"), opts.get("split", "train"), opts.get("streaming", True))
    text_field, id_field = reader.text_field, reader.id_field
    line = 0
    for line, row in enumerate(rows, start=1):  # noqa: B007 - `line` is read after the loop
        if piece.end is not None and line > piece.end:
            line -= 1
            break
        text = row.get(text_field)
        if text_field not in row:
            yield reader._issue(line, text_field, "missing_field", "no such column")
            continue
        if not isinstance(text, str):
            got = "null" if text is None else type(text).__name__
            yield reader._issue(line, text_field, "wrong_type", f"expected a string, got {got}")
            continue
        doc_id = row.get(id_field) if id_field is not None else None
        doc_id = f"{piece.path}:{line}" if doc_id is None else str(doc_id)
        yield Document(id=doc_id, text=text, source=piece.source, file=piece.path, line=line)
    if line == 0:
        yield reader._issue(None, None, "empty_file", "the dataset split has no rows")
