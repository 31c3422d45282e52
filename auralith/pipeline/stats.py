"""Job figures summed from partition rows: what `status`, `watch` and the manifest report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from auralith.pipeline.stages import STAGES as GRAPH
from auralith.store.models import Partition, PartitionState
from auralith.store.partitions import StageStates

# The stages `watch` and `status` show even before their rows exist; a job's other stages follow its rows.
STAGES = ("process", "dedup", "tokenize")
# Stages whose removals a later stage counts again (tokenize counts what the dedup decisions drop).
UNCOUNTED_REMOVALS = frozenset(s.name for s in GRAPH if not s.counts_removals)
_ORDER = {s.name: i for i, s in enumerate(GRAPH)}


def _graph_order(stage: str) -> int:
    return _ORDER.get(stage, len(_ORDER))


@dataclass
class StageCounts:
    total: int = 0
    pending: int = 0
    started: int = 0
    committed: int = 0
    failed: int = 0

    def add(self, state: str) -> None:
        self.total += 1
        setattr(self, state, getattr(self, state) + 1)


@dataclass
class JobStats:
    stages: dict[str, StageCounts] = field(default_factory=dict)
    input_bytes: int = 0
    bytes_read: int = 0
    records: int = 0
    kept_after_filters: int = 0
    documents_out: int = 0
    tokens: int = 0
    shards: int = 0
    tokenize_documents_done: int = 0
    truncated: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    input_errors: dict[str, int] = field(default_factory=dict)
    lines_removed: dict[str, int] = field(default_factory=dict)  # lines C4 dropped from kept documents, by rule
    pii: dict[str, int] = field(default_factory=dict)  # PII found, by type
    # language -> documents and tokens written (tokenize rows), when the job identified languages
    languages: dict[str, dict[str, int]] = field(default_factory=dict)
    issues: list[dict] = field(default_factory=list)
    issue_count: int = 0
    # Duplicates the dedup decisions (committed rows of `dedup`, `near_dedup`) drop: final as soon as they are
    # committed, while `removed` gets them partition by partition from tokenize.
    duplicates_decided: int = 0
    encoders: dict[str, int] = field(default_factory=dict)  # documents tokenized, by the encoder that did it
    encoder_fallbacks: list[dict] = field(default_factory=list)  # partitions that fell back to `tokenizers`

    def to_dict(self) -> dict:
        return {
            "stages": {k: vars(v) for k, v in self.stages.items()},
            "input_bytes": self.input_bytes,
            "bytes_read": self.bytes_read,
            "documents_in": self.records,
            "kept_after_filters": self.kept_after_filters,
            "documents_out": self.documents_out,
            "removed": self.removed,
            "removed_total": sum(self.removed.values()),
            "input_errors": self.input_errors,
            "lines_removed": self.lines_removed,
            "pii": self.pii,
            **({"languages": self.languages} if self.languages else {}),
            "issue_count": self.issue_count,
            "issues": self.issues,
            "tokens": self.tokens,
            "truncated": self.truncated,
            "shards": self.shards,
            "encoders": self.encoders,
            "encoder_fallbacks": self.encoder_fallbacks,
        }


def _add(total: Counter[str], counts: dict[str, int] | None) -> None:
    """`total.update(counts)` without Counter.update's per-call checks: called 5 times per row, at 100,000 rows
    they were a third of `status`'s time in Python."""
    if counts:
        for key, n in counts.items():
            total[key] += n


def job_stats(
    partitions: list[Partition], max_issues: int = 50, states: dict[str, StageStates] | None = None
) -> JobStats:
    """Sum committed partitions' counts, plus live progress of started ones (for `watch`).

    With `states` (Store.stage_states: units counted in SQL) the units per state and the input bytes come from
    it, and `partitions` need only hold the committed and started units (those with figures)."""
    st = JobStats(stages={s: StageCounts() for s in STAGES})
    if states is not None:
        for name, counted in states.items():
            stage = st.stages.setdefault(name, StageCounts())
            for state, n in counted.counts.items():
                stage.total += n
                setattr(stage, state, getattr(stage, state) + n)
        st.input_bytes = states["process"].input_bytes if "process" in states else 0
    removed: Counter[str] = Counter()
    input_errors: Counter[str] = Counter()
    lines_removed: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    encoders: Counter[str] = Counter()
    lang_docs: Counter[str] = Counter()
    lang_tokens: Counter[str] = Counter()
    for p in partitions:
        if states is None:
            st.stages.setdefault(p.stage, StageCounts()).add(p.state)
        committed = p.state == PartitionState.COMMITTED and p.counts is not None
        c = p.counts or {}
        live = (p.progress or {}) if p.state == PartitionState.STARTED else {}
        if p.stage == "process":
            if states is None:
                st.input_bytes += p.input_bytes
            if committed:
                st.bytes_read += c.get("bytes", 0)
                st.records += c.get("records", 0)
                st.kept_after_filters += c.get("kept", 0)
                _add(input_errors, c.get("input_errors"))
                _add(lines_removed, c.get("lines_removed"))
                _add(pii, c.get("pii"))
                st.issue_count += c.get("issue_count", 0)
                for issue in c.get("issues", []):
                    if len(st.issues) < max_issues:
                        st.issues.append(issue)
            else:
                st.bytes_read += live.get("bytes", 0)
        elif p.stage == "tokenize":
            if committed:
                st.documents_out += c.get("kept", 0)
                st.tokens += c.get("tokens", 0)
                st.shards += c.get("shards", 0)
                st.truncated += c.get("truncated", 0)
                st.tokenize_documents_done += c.get("documents", 0)
                _add(encoders, c.get("encoders"))
                if "encoder_fallback" in c and len(st.encoder_fallbacks) < max_issues:
                    st.encoder_fallbacks.append(c["encoder_fallback"])
                for lang, per in c.get("languages", {}).items():
                    lang_docs[lang] += per["documents"]
                    lang_tokens[lang] += per["tokens"]
            else:
                st.tokens += live.get("tokens", 0)
                st.tokenize_documents_done += live.get("documents", 0)
        elif p.stage == "write" and committed:
            # A mixed or shuffled job's output (pipeline/write_output.py): tokenize counted every document it
            # spilled, the write rows take out what the mix left out.
            st.documents_out -= c.get("documents", 0) - c.get("kept", 0)
            st.tokens -= c.get("tokens_in", 0) - c.get("tokens", 0)
            st.shards += c.get("shards", 0)
        if committed and p.stage not in UNCOUNTED_REMOVALS:
            # The dedup rows' removals are the sums of the tokenize rows' duplicate counts: count once.
            _add(removed, c.get("removed"))
        elif committed:
            st.duplicates_decided += sum(c.get("removed", {}).values())
    # In the graph's order (rows come sorted by name): process, dedup, ..., tokenize, finalize, train.
    st.stages = {name: st.stages[name] for name in sorted(st.stages, key=_graph_order)}
    st.removed = dict(sorted(removed.items()))
    st.input_errors = dict(sorted(input_errors.items()))
    st.lines_removed = dict(sorted(lines_removed.items()))
    st.pii = dict(sorted(pii.items()))
    st.encoders = dict(sorted(encoders.items()))
    # Most documents first: the order `status` and the report show them in.
    st.languages = {
        lang: {"documents": n, "tokens": lang_tokens[lang]}
        for lang, n in sorted(lang_docs.items(), key=lambda kv: (-kv[1], kv[0]))
    }
    return st
