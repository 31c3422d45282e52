"""`watch`'s bars over a job's changing rows (a scripted client: no store, no worker)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from rich.console import Console

from auralith.cli.progress import watch_job
from auralith.client import JobInfo
from auralith.pipeline.stats import job_stats
from auralith.store.models import Partition

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _row(stage: str, index: int, state: str = "pending", **counts) -> Partition:
    return Partition(stage=stage, index=index, state=state, counts=counts or None, input_bytes=100, progress=None)


def _info(state: str, rows: list[Partition], training: dict | None = None) -> JobInfo:
    return JobInfo("j1", "demo", state, "normal", T0, T0, None, None, None, {}, job_stats(rows), training)


class ScriptedClient:
    """Hands out one JobInfo per poll, the last one for ever."""

    def __init__(self, *infos: JobInfo):
        self.infos = list(infos)

    def get_job(self, job_id: str, with_stats: bool = True) -> JobInfo:
        return self.infos.pop(0) if len(self.infos) > 1 else self.infos[0]

    def heals(self, job_id: str) -> list:
        return []


def _watch(*infos: JobInfo) -> str:
    # A terminal, so that every refresh is drawn (and recorded) as a user sees it; each state is polled for
    # 0.3 s, long enough to be drawn (rich refreshes 10 times a second).
    console = Console(width=160, record=True, force_terminal=True)
    watch_job(ScriptedClient(*[info for info in infos for _ in range(30)]), "j1", console, poll=0.01)
    return console.export_text()


def test_a_job_that_only_trains_never_draws_data_bars():
    train = {"state": "started", "step": 3, "steps": 10, "loss": 4.0, "eta_s": 70}
    rows = [_row("train", 0, "started")]
    done = {**train, "state": "committed", "step": 10, "eta_s": 0}
    text = _watch(_info("running", rows, train), _info("succeeded", [_row("train", 0, "committed")], done))
    assert "train" in text
    for data_bar in ("process", "dedup", "tokenize"):
        assert data_bar not in text, text


def test_the_training_bar_shows_one_eta_the_trainers():
    train = {"state": "started", "step": 3, "steps": 10, "loss": 4.0, "tokens_per_s": 900.0, "eta_s": 70}
    running = _info("running", [_row("train", 0, "started")], train)
    text = _watch(running, running, _info("failed", [_row("train", 0, "failed")], train))
    line = text.split("train     ")[-1]  # the last frame drawn (frames follow each other on one terminal line)
    assert re.findall(r"\d+:\d\d:\d\d", line)[-1] == "0:01:10" and line.count("eta") == 1, line


def test_the_dedup_bar_shows_the_decided_count_from_the_start():
    process = [_row("process", i, "committed", records=100, kept=90, bytes=100) for i in range(2)]
    dedup = _row("dedup", 0, "committed", removed={"exact_duplicate": 84})
    # Tokenize has counted 77 of the 84 so far; the decision says 84 as soon as it is committed.
    tokenize = [_row("tokenize", 0, "committed", kept=50, removed={"exact_duplicate": 77}), _row("tokenize", 1)]
    finished = [*tokenize[:1], _row("tokenize", 1, "committed", kept=49, removed={"exact_duplicate": 7})]
    finalize = [_row("finalize", 0, "committed")]
    text = _watch(
        _info("running", [*process, dedup, *tokenize]), _info("succeeded", [*process, dedup, *finished, *finalize])
    )
    dedup_frames = [frame.split("tokenize")[0] for frame in text.split("dedup     ")[1:]]
    shown = [f for f in dedup_frames if "dups dropped" in f]
    assert shown and all("84 dups dropped" in f for f in shown), dedup_frames
