"""The normalised text of a job's sources, for training a tokenizer on exactly what the job will see."""

from __future__ import annotations

from collections.abc import Iterator

from auralith.config import JobConfig
from auralith.pipeline.plan import plan_partitions
from auralith.sources.documents import Document
from auralith.sources.readers import PieceReader
from auralith.steps.normalize import TextNormalizer
from auralith.steps.web import WebSteps
from auralith.storage import Files


def iter_source_texts(cfg: JobConfig, max_bytes: int | None = None) -> Iterator[str]:
    """Yield normalised document texts in input order, stopping after about `max_bytes` of text."""
    normalize = TextNormalizer(cfg.preprocessing.normalize)
    web = WebSteps(cfg.preprocessing.url_filter, cfg.preprocessing.html)  # a WARC page's main text, not its HTML
    files = Files(cfg.storage)
    total = 0
    for pieces in plan_partitions(cfg):
        for piece in pieces:
            src = cfg.sources[piece.source]
            for item in PieceReader(files, piece, src.text_field, src.id_field, src.reader_options()):
                if not isinstance(item, Document):
                    continue
                text, removed = web(item.text, item.meta)
                if removed:
                    continue
                text = normalize(text)
                if text:
                    yield text
                    total += len(text)
                    if max_bytes is not None and total >= max_bytes:
                        return
