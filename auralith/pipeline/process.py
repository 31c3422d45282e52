"""The process stage, one partition: read -> normalise -> identify language -> filter -> redact -> hash.

Outputs go to atomic files. The exact-dup hash and the MinHash signature are computed last, on the text that
is written (normalised, then edited by C4's line rules and PII redaction): the text that is tokenized is the
text that is deduplicated, so two documents that differ only in a redacted e-mail address or a dropped
cookie banner are duplicates in the output and are removed as such.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

from auralith.config import JobConfig
from auralith.errors import InputError
from auralith.pipeline.exact_dedup import write_hashes
from auralith.pipeline.paths import WorkPaths
from auralith.pipeline.throttle import ProgressFn, Throttle
from auralith.pipeline.unit import UnitContext, UnitResult
from auralith.sources.documents import Document, FilePiece, InputIssue, SkippedRecord
from auralith.sources.readers import PieceReader, jsonl_zst_writer
from auralith.steps.dedup import content_hash
from auralith.steps.filters import LengthFilter
from auralith.steps.language import LanguageFilter
from auralith.steps.language_rules import rules_language
from auralith.steps.normalize import TextNormalizer
from auralith.steps.profile import PartitionProfile
from auralith.steps.quality import QualityChain
from auralith.steps.web import WebSteps

MAX_ISSUES_IN_COUNTS = 20  # the first issues travel in the partition row; all of them go to a side file


def process_partition(
    cfg: JobConfig, pieces: list[FilePiece], paths: WorkPaths, index: int, progress: ProgressFn | None = None
) -> dict:
    """Read, normalise, filter and hash one partition; write its clean documents. Returns its counts.

    Every record read ends up exactly once: kept, or under `removed[reason]`. Records that are not
    documents at all (bad JSON, invalid UTF-8, ...) are removed as `input_error.{reason}` and listed.
    Outputs are streamed to their files; only the hash list (~100 B a kept document) is held, to be
    sorted before it is written. Inputs and outputs go through `paths.files`, the job's storage.
    """
    files = paths.files
    pre = cfg.preprocessing
    normalize = TextNormalizer(pre.normalize)
    length_filter = LengthFilter(pre.length)
    chain = QualityChain(pre.quality, pre.pii)
    web = WebSteps(pre.url_filter, pre.html)
    language = LanguageFilter(pre.language) if pre.language.enabled else None
    languages: Counter[str] = Counter()  # kept documents per language
    removed: Counter[str] = Counter()
    input_errors: Counter[str] = Counter()
    first_issues: list[dict] = []
    records = documents = blank_lines = 0
    kept_bytes = 0  # UTF-8 bytes of the kept documents: no tokenizer makes more tokens than bytes (training check)
    bytes_done = 0
    report = Throttle(progress)
    hashes: list[tuple[str, str, int]] = []  # (hash, id, position in the clean file): ~100 B a document
    signatures = near_dedup_writer(cfg, paths, index)
    profile = PartitionProfile()  # lengths per source before/after filters, for `auralith report`

    with ExitStack() as outputs:
        kept = outputs.enter_context(jsonl_zst_writer(files, paths.clean(index)))
        issues = outputs.enter_context(jsonl_zst_writer(files, paths.issues(index)))
        aside = outputs.enter_context(jsonl_zst_writer(files, paths.removed(index))) if pre.keep_removed else None
        for piece in pieces:
            src = cfg.sources[piece.source]
            reader = PieceReader(files, piece, src.text_field, src.id_field, src.reader_options())
            for item in reader:
                report({"documents": records, "bytes": bytes_done + reader.bytes_read})
                if isinstance(item, InputIssue):
                    if item.reason == "unreadable":
                        # A file listed at planning that a worker cannot open is a setup problem (a missing
                        # mount, permissions), not bad data: fail the partition rather than lose the file.
                        raise InputError(item.message, file=item.file)
                    input_errors[item.reason] += 1
                    if item.line is not None:  # a bad record (an empty file is not a record)
                        records += 1
                        removed[f"input_error.{item.reason}"] += 1
                        profile.add_bad_record(piece.source, f"input_error.{item.reason}")
                    issues.write(item.to_dict())
                    if len(first_issues) < MAX_ISSUES_IN_COUNTS:
                        first_issues.append(item.to_dict())
                    continue
                records += 1
                if isinstance(item, SkippedRecord):  # a WARC request, a non-HTML page: a record, not a document
                    removed[f"skipped.{item.reason}"] += 1
                    profile.add_bad_record(piece.source, f"skipped.{item.reason}")
                    continue
                documents += 1
                item.text, reason = web(item.text, item.meta)
                profile.add_before(piece.source, item.text)
                lang, score = None, 0.0
                if not reason:
                    reason, lang, score = _clean(item, normalize, length_filter, language, chain)
                if reason:
                    removed[reason] += 1
                    profile.add_removed(piece.source, reason)
                    if aside:
                        extra = {"language": lang, "language_score": round(score, 4)} if lang is not None else {}
                        record = {"id": item.id, "file": item.file, "line": item.line, "reason": reason}
                        aside.write({**record, **extra, "text": item.text} | _provenance(item))
                    continue
                profile.add_after(piece.source, item.text)
                kept_bytes += len(item.text.encode("utf-8"))
                # Hashes and signatures of the text as written (after C4's edits and redaction): see the docstring.
                if pre.exact_dedup:
                    hashes.append((content_hash(item.text), item.id, kept.count))
                if signatures:
                    signatures.add(kept.count, item.id, item.text)
                record = {"id": item.id, "text": item.text, "file": item.file, "line": item.line}
                if lang is not None:
                    languages[lang] += 1
                    record.update(language=lang, language_score=round(score, 4))
                kept.write(record | {"source": piece.source} | _provenance(item))
            blank_lines += reader.blank_lines
            bytes_done += piece.size

    # No final progress report: the commit that follows sets the partition's figures and clears its progress.
    if pre.exact_dedup:
        # Sorted by hash and indexed by prefix, so each dedup task merges one hash range of every partition.
        write_hashes(paths, index, hashes)
    return {
        **({"minhash": signatures.close()} if signatures else {}),
        "records": records,
        "documents": documents,
        "kept": kept.count,
        "kept_bytes": kept_bytes,
        "bytes": bytes_done,
        "blank_lines": blank_lines,
        "removed": dict(sorted(removed.items())),
        "input_errors": dict(sorted(input_errors.items())),
        "issues": first_issues,
        "issue_count": issues.count,
        "profile": profile.to_dict(),
        "lines_removed": dict(sorted(chain.lines_removed.items())),
        **({"languages": dict(sorted(languages.items()))} if language else {}),
        # Only when the PII stage ran: the report tells "no PII found" ({}) from "not scanned" (no key).
        **({"pii": dict(sorted(chain.pii.items()))} if pre.pii.enabled else {}),
    }


def near_dedup_writer(cfg: JobConfig, paths: WorkPaths, index: int):
    """The partition's MinHash signature writer, or None with near dedup off."""
    if not cfg.preprocessing.near_dedup.enabled:
        return None
    from auralith.pipeline.near_dedup import SignatureWriter

    return SignatureWriter(cfg.preprocessing.near_dedup, paths, index)


def _provenance(doc: Document) -> dict:
    """A web page's URL and crawl date, kept beside its text in the work files (empty for other sources)."""
    return {k: doc.meta[k] for k in ("url", "date") if k in doc.meta}


def _clean(
    doc: Document,
    normalize: TextNormalizer,
    length_filter: LengthFilter,
    language: LanguageFilter | None,
    chain: QualityChain,
) -> tuple[str | None, str | None, float]:
    """(removal reason or None, language or None with identification off, its score)."""
    doc.text = normalize(doc.text)
    reason = length_filter(doc.text)
    lang, score = None, 0.0
    if reason is None and language is not None:
        # Identified on the normalised text, before C4 edits it: the quality rules then follow the language.
        lang, score, reason = language(doc.text)
    if reason is None:
        # On removal the chain hands back the text it was given: `keep_removed` gets it before C4 or redaction.
        doc.text, reason = chain(doc.text, rules_language(lang, score))
    return reason, lang, score


def process_unit(unit: UnitContext) -> UnitResult:
    """The process stage's unit: one partition of input pieces."""
    pieces = [FilePiece.from_dict(p) for p in unit.ref["pieces"]]
    paths = unit.paths
    counts = process_partition(unit.cfg, pieces, paths, unit.index, unit.progress)
    return counts, {"clean": str(paths.clean(unit.index))}
