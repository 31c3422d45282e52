"""Live progress bars and summary tables for a job, drawn with rich from the store's partition rows."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import click
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from auralith.cli.common import console as stdout_console
from auralith.cli.common import print_error
from auralith.pipeline.stats import JobStats
from auralith.store.models import JobState

if TYPE_CHECKING:
    from auralith.client import Client, JobInfo
    from auralith.store.models import HealRecord

MB = 2**20
LABEL_MIN_WIDTH = 16  # "documents kept", "  PII found: ip": readable however narrow the terminal


def _fmt_int(n: int) -> str:
    return f"{n:,}"


# Stages drawn with their own figures above (training by TrainBar; near_dedup within the dedup bar); finalize is
# one short unit at the end.
_OWN_BARS = frozenset({"process", "dedup", "near_dedup", "tokenize", "finalize", "train"})
# The decisions the dedup bar stands for: exact, then near with preprocessing.near_dedup.
_DEDUP_DECISIONS = ("dedup", "near_dedup")


def _stage_line(st: JobStats, stage: str) -> str:
    c = st.stages.get(stage)
    return f"{c.committed}/{c.total} parts" if c else ""


class EtaColumn(TimeRemainingColumn):
    """rich's estimate from the bar's speed, unless the task brings its own `eta` (training: from its measured
    step time), so that a bar never shows two."""

    def render(self, task: Task) -> Text:
        eta = task.fields.get("eta")
        return Text(eta, style="progress.remaining") if eta is not None else super().render(task)


def _data_bars(progress: Progress) -> dict[str, TaskID]:
    return {
        "process": progress.add_task("process", total=None, info=""),
        "dedup": progress.add_task("dedup", total=1, info=""),
        "tokenize": progress.add_task("tokenize", total=None, info=""),
    }


def _update_data_bars(progress: Progress, bars: dict[str, TaskID], st: JobStats) -> None:
    proc_total = max(st.input_bytes, 1) / MB
    progress.update(
        bars["process"],
        total=proc_total,
        completed=min(st.bytes_read / MB, proc_total),
        info=f"{st.bytes_read / MB:7.1f} MB  {_fmt_int(st.records)} docs  {_stage_line(st, 'process')}",
    )
    # The decisions' own figures, final once they are committed (tokenize counts the same documents again,
    # partition by partition, into the job's removals).
    decisions = [st.stages[name] for name in _DEDUP_DECISIONS if name in st.stages]
    done = sum(c.committed for c in decisions)
    progress.update(
        bars["dedup"],
        total=max(sum(c.total for c in decisions), 1),
        completed=done,
        info=f"{_fmt_int(st.duplicates_decided)} dups dropped" if done else "",
    )
    tok = st.stages.get("tokenize")
    if st.stages["process"].total and st.stages["process"].committed == st.stages["process"].total:
        progress.update(bars["tokenize"], total=max(st.kept_after_filters, 1))
    progress.update(
        bars["tokenize"],
        completed=st.tokenize_documents_done,
        info=f"{_fmt_int(st.tokens)} tokens  {_stage_line(st, 'tokenize')}" if tok else "",
    )
    for name, counts in st.stages.items():  # any other stage of the graph: units committed of total
        if name in _OWN_BARS or not counts.total:
            continue
        if name not in bars:
            bars[name] = progress.add_task(name, total=counts.total, info="")
        progress.update(bars[name], total=counts.total, completed=counts.committed, info=_stage_line(st, name))


def watch_job(
    client: Client, job_id: str, console: Console | None = None, poll: float = 0.5, timeout: float | None = None
) -> JobInfo:
    """Show a progress bar per stage until the job ends; returns the final JobInfo."""
    from auralith.cli.training_progress import TrainBar

    console = console or Console()
    progress = Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        EtaColumn(),
        console=console,
        transient=False,
    )
    bars: dict[str, TaskID] = {}
    train_bar = TrainBar(progress)
    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    hinted = False
    healed = 0
    with progress:
        while True:
            info = client.get_job(job_id)
            healed = _print_new_heals(progress.console, client.heals(info.id), healed)
            if info.state == JobState.PENDING and not hinted and time.monotonic() - start > 15:
                hinted = True
                progress.console.print(
                    "[yellow]no worker has started this job yet: is a worker consuming "
                    "the `default` queue on the same broker and store?[/yellow]"
                )
            st = info.figures
            # A job that only trains (`auralith train --shards`) has a train row and no data stages: no data bars.
            if not ("train" in st.stages and not st.stages["process"].total):
                bars = bars or _data_bars(progress)
                _update_data_bars(progress, bars, st)
            train_bar.update(info)
            if info.done:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info.state} after {timeout} s")
            time.sleep(poll)
    return info


def _print_new_heals(console: Console, heals: list[HealRecord], shown: int) -> int:
    """When the supervisor healed the job since the last poll: the count by reason, then the new heals (at most
    five). Returns how many heals are shown."""
    if len(heals) <= shown:
        return shown
    from auralith.observe.heals import summarize_heals
    from auralith.redact import redact_text

    console.print(f"[yellow]{summarize_heals(heals).line()}[/yellow]", highlight=False)
    for h in heals[max(shown, len(heals) - 5) :]:
        unit = h.stage if h.index is None else f"{h.stage} {h.index}"
        console.print(f"  {unit}: {h.reason}: {redact_text(h.detail)}", highlight=False, markup=False)
    return len(heals)


class FittedSummary:
    """The summary table, fitted to the width it is drawn at: the values (the output path) stay whole as long as
    the labels keep LABEL_MIN_WIDTH columns; narrower, both fold. A value without its label means nothing."""

    BORDERS = 7  # "│ " + " │ " + " │"

    def __init__(self, table: Table):
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        labels, values = self.table.columns
        labels.width = values.width = None  # as measured, not as fitted for another width
        label_w, value_w = (max((cell_len(str(c)) for c in col.cells), default=0) for col in (labels, values))
        room = options.max_width - self.BORDERS
        if label_w + value_w > room:  # rich would shrink the widest column first: the value, or the labels away
            label_w = max(min(label_w, LABEL_MIN_WIDTH), room - value_w)
            labels.width, values.width = label_w, max(1, room - label_w)
        yield self.table


def summary_table(info: JobInfo, removal_rows: bool = True) -> FittedSummary:
    """Documents in, kept, removed by reason, tokens, shards, time: the table `run` and `status` end with.

    With `removal_rows=False` the removals are one total row (`status` shows them in `removals_table`).
    """
    st = info.figures
    title = f"job {info.id} ({escape(info.name)}): {info.state}"
    # As wide as its title where there is room: a title folded over two lines splits the job's state from its id.
    table = Table(title=title, show_header=True, header_style="bold", min_width=cell_len(Text.from_markup(title).plain))
    # Long reason names fold; the value column is fitted when drawn (FittedSummary).
    table.add_column("", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    if info.training and not st.stages["process"].total:  # `auralith train --shards`: no data stages
        _add_end_rows(table, info)
        return FittedSummary(table)
    table.add_row("documents in", _fmt_int(st.records))
    table.add_row("input MB", f"{st.input_bytes / MB:.2f}")
    if removal_rows:
        for reason, n in st.removed.items():
            table.add_row(f"  removed: {escape(reason)}", _fmt_int(n))
    else:
        table.add_row("documents removed", _fmt_int(sum(st.removed.values())))
    table.add_row("documents kept", _fmt_int(st.documents_out))
    for rule, n in st.lines_removed.items():
        table.add_row(f"  lines dropped: {escape(rule)}", _fmt_int(n))
    for kind, n in st.pii.items():
        table.add_row(f"  PII found: {escape(kind)}", _fmt_int(n))
    table.add_row("tokens", _fmt_int(st.tokens))
    if st.truncated:
        table.add_row("  documents truncated to max_length", _fmt_int(st.truncated))
    if st.encoder_fallbacks:  # fastokens differed from `tokenizers` somewhere: those partitions use the latter
        table.add_row("  partitions re-encoded with tokenizers", _fmt_int(len(st.encoder_fallbacks)))
    table.add_row("shards", _fmt_int(st.shards))
    _add_end_rows(table, info)
    return FittedSummary(table)


def _add_end_rows(table: Table, info: JobInfo) -> None:
    if info.started_at and info.finished_at:
        table.add_row("time", f"{(info.finished_at - info.started_at).total_seconds():.1f} s")
    if info.output:
        table.add_row("output", escape(info.output))
    from auralith.cli.training_progress import training_rows

    for name, value in training_rows(info.training):
        table.add_row(name, escape(value))


def stages_table(st: JobStats) -> Table:
    table = Table(title="partitions by stage", header_style="bold")
    for col in ("stage", "total", "pending", "started", "committed", "failed"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for name, c in st.stages.items():
        table.add_row(name, *(str(getattr(c, k)) for k in ("total", "pending", "started", "committed", "failed")))
    return table


def removals_table(st: JobStats) -> Table:
    """Removed documents by reason, most first, with their share of the documents read."""
    table = Table(title="removals by reason", header_style="bold")
    table.add_column("reason")
    table.add_column("documents", justify="right")
    table.add_column("% of input", justify="right")

    def pct(n: int) -> str:
        return f"{100 * n / st.records:.2f} %" if st.records else "–"

    for reason, n in sorted(st.removed.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(escape(reason), _fmt_int(n), pct(n))
    total = sum(st.removed.values())
    table.add_section()
    table.add_row("total" if total else "nothing removed", _fmt_int(total), pct(total), style="bold")
    return table


def issue_lines(st: JobStats, limit: int = 20) -> list[str]:
    """Bad input records as `file:line: reason (field): message`, the form editors and grep understand."""
    lines = []
    for issue in st.issues[:limit]:
        where = issue["file"] + (f":{issue['line']}" if issue["line"] is not None else "")
        field = f" (field {issue['field']!r})" if issue["field"] else ""
        lines.append(f"{where}: {issue['reason']}{field}: {issue['message']}")
    if st.issue_count > len(lines):
        lines.append(f"... and {st.issue_count - len(lines)} more (all of them in the job's work dir, issues/)")
    return lines


def print_issues(st: JobStats) -> None:
    """The job's bad input records, if any, under a heading."""
    lines = issue_lines(st)
    if lines:
        stdout_console.print(f"[bold]input issues ({st.issue_count})[/bold]")
        for line in lines:
            stdout_console.print(line, soft_wrap=True, highlight=False, markup=False)


def print_job_end(info: JobInfo, as_json: bool = False) -> None:
    """The ended job as tables (or JSON), as `run`, `train` and `watch` end; exit code 1 unless it succeeded."""
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        stdout_console.print(summary_table(info))
        print_issues(info.figures)
        if info.error:
            print_error(info.error, label="job failed")
    if info.state != "succeeded":
        sys.exit(1)
