"""advance(job): the one place that decides what runs next, read from the rows and the stage graph.

Run on a real SQLite store; the chords it would send are collected instead of sent (no broker)."""

from __future__ import annotations

import json

import pytest
from celery.canvas import Signature, _chain, _chord

from auralith.store import Store
from auralith.store.models import JobState
from auralith.worker.lifecycle import advance

CONFIG = {
    "name": "j",
    "sources": {"path": "x.jsonl"},
    "tokenization": {"tokenizer": "tok.json"},
    "limits": {"soft_time_limit": 60},
}


def make_job(store: Store, stages: dict[str, int], config: dict = CONFIG, priority: str = "high") -> str:
    store.create_job("job-1", config, "h" * 64, "j", priority)
    store.create_partitions("job-1", {s: [({"i": i}, 0) for i in range(n)] for s, n in stages.items()})
    store.set_job_state("job-1", JobState.RUNNING)
    return "job-1"


def commit(store: Store, stage: str, *indexes: int) -> None:
    for p in store.list_partitions("job-1", stage):
        if not indexes or p.index in indexes:
            store.commit_partition(p.id, {}, None)


def step(app, store, **kw) -> tuple[list[Signature], object]:
    sent: list[Signature] = []
    return sent, advance(app, store, "job-1", send=sent.append, **kw)


DATA = {"process": 3, "dedup": 1, "tokenize": 3, "finalize": 1}


def test_first_stage_is_sent_as_a_chord_whose_body_is_advance(app, store):
    make_job(store, DATA)
    sent, decision = step(app, store)
    (sig,) = sent
    assert isinstance(sig, _chord) and not isinstance(sig, _chain)
    tasks = list(sig.tasks)
    assert [t.task for t in tasks] == ["auralith.process_partition"] * 3
    assert [tuple(t.args) for t in tasks] == [("job-1", 0), ("job-1", 1), ("job-1", 2)]
    assert all(t.immutable and t.kwargs == {} for t in tasks)
    assert sig.body.task == "auralith.advance" and tuple(sig.body.args) == ("job-1",)
    assert sig.body.options["queue"] == "process"  # decided by the pool that ran the stage
    # The ids sent are the rows' task ids, so `cancel` can revoke what is queued.
    rows = {p.index: p.task_id for p in store.list_partitions("job-1", "process")}
    assert {tuple(t.args)[1]: t.id for t in tasks} == rows == decision.sent
    assert decision.stage == "process"


def test_advance_is_idempotent(app, store):
    make_job(store, DATA)
    step(app, store)
    sent, decision = step(app, store)
    assert sent == [] and decision.stage == "process" and decision.sent == {}


def test_the_next_stage_once_the_one_before_is_committed(app, store):
    make_job(store, DATA)
    step(app, store)
    commit(store, "process", 0, 1)
    assert step(app, store)[0] == []  # partition 2 is still running
    commit(store, "process", 2)
    (sig,), decision = step(app, store)
    assert decision.stage == "dedup" and [t.task for t in sig.tasks] == ["auralith.dedup_exact"]
    assert "stage process done" in [e.message for e in store.list_events("job-1")]


def test_priority_and_limits_reach_every_task_and_the_body(app, store):
    make_job(store, DATA)
    (sig,), _ = step(app, store)
    for t in [*sig.tasks, sig.body]:
        assert t.options["priority"] == 3  # `high` on Redis
    assert all(t.options["soft_time_limit"] == 60 for t in sig.tasks)


def test_messages_carry_only_ids(app, store):
    make_job(store, {"process": 1, "dedup": 1, "tokenize": 500, "finalize": 1})
    (sig,), _ = step(app, store)
    for t in [*sig.tasks, sig.body]:
        assert len(json.dumps([list(t.args), t.kwargs])) < 40
    assert len(json.dumps(dict(sig))) < 2000  # the 500 tokenize units are not in it


def test_the_chord_id_is_recorded_on_the_rows(app, store):
    make_job(store, DATA)
    (sig,), _ = step(app, store)
    chord_id = sig.options["task_id"]  # chord.apply_async makes it the header's group id
    assert {p.chord_id for p in store.list_partitions("job-1", "process")} == {chord_id}
    assert all(p.sent_at is not None for p in store.list_partitions("job-1", "process"))


def test_resend_sends_lost_units_again_under_their_ids_in_their_chord(app, store):
    make_job(store, DATA)
    (first_sig,), first = step(app, store)
    commit(store, "process", 1)
    sent, again = step(app, store, resend=True)
    assert again.sent == {0: first.sent[0], 2: first.sent[2]}
    # Each joins the chord it was sent in, so that chord counts it once and its body runs as it would have.
    assert [(s.id, s.options["group_id"]) for s in sent] == [
        (first.sent[0], first_sig.options["task_id"]),
        (first.sent[2], first_sig.options["task_id"]),
    ]
    assert all(s.options["chord"]["task"] == "auralith.advance" for s in sent)


def test_resend_leaves_what_a_live_worker_runs(app, store):
    """`auralith resume` while partitions run: they are not sent (and run) twice."""
    make_job(store, DATA)
    _, first = step(app, store)
    store.beat("w1@host", 1, ["process"], [first.sent[0]])
    sent, again = step(app, store, resend=True)
    assert again.sent == {1: first.sent[1], 2: first.sent[2]}
    assert [s.id for s in sent] == [first.sent[1], first.sent[2]]


def test_resend_of_units_sent_before_chords_were_recorded_makes_a_new_chord(app, store):
    make_job(store, DATA)
    _, first = step(app, store)
    store.mark_sent("job-1", "process", [0, 1, 2], None)  # as rows sent by an older version
    (sig,), again = step(app, store, resend=True)
    assert [t.id for t in sig.tasks] == [first.sent[i] for i in range(3)]
    assert {p.chord_id for p in store.list_partitions("job-1", "process")} == {sig.options["task_id"]}


def test_near_dedup_stages_run_between_dedup_and_tokenize(app, store):
    make_job(store, {"process": 2, "dedup": 1, "minhash": 4, "near_dedup": 1, "tokenize": 2, "finalize": 1})
    order = []
    for _ in range(6):
        (sig,), decision = step(app, store)
        order.append((decision.stage, len(sig.tasks)))
        commit(store, decision.stage)
    assert order == [("process", 2), ("dedup", 1), ("minhash", 4), ("near_dedup", 1), ("tokenize", 2), ("finalize", 1)]
    sent, decision = step(app, store)
    assert sent == [] and decision.finished
    job = store.get_job("job-1")
    assert job.state == JobState.SUCCEEDED and job.output_uri
    assert store.list_events("job-1")[-1].message.startswith("succeeded: ")


def test_a_job_that_only_trains_goes_to_the_hpu_queue_without_limits(app, store):
    make_job(store, {"train": 1})
    (sig,), decision = step(app, store)
    (task,) = sig.tasks
    assert decision.stage == "train" and task.task == "auralith.train_model"
    # An hpu worker alone finishes the job: its chord's body goes to `hpu` too, with hpu's binding key.
    body_route = app.amqp.router.route(dict(sig.body.options), sig.body.task)
    assert body_route["queue"].name == "hpu" and body_route["routing_key"] == "hpu.train"
    assert "soft_time_limit" not in task.options
    assert app.amqp.router.route({}, task.task)["queue"].name == "hpu"


@pytest.mark.parametrize("state", [JobState.CANCELLED, JobState.FAILED, JobState.SUCCEEDED])
def test_nothing_is_sent_for_a_job_that_is_not_running(app, store, state):
    make_job(store, DATA)
    store.set_job_state("job-1", state)
    sent, decision = step(app, store)
    assert sent == [] and decision.stage is None


def test_a_failed_unit_stops_the_job_where_it_is(app, store):
    make_job(store, DATA)
    step(app, store)
    store.fail_partition(store.get_partition("job-1", "process", 1).id, "boom")
    commit(store, "process", 0, 2)
    sent, decision = step(app, store)
    assert sent == [] and decision.stage == "process" and store.get_job("job-1").state == JobState.RUNNING


@pytest.mark.parametrize(
    ("finalize_committed", "task"), [(False, "auralith.finalize_job"), (True, "auralith.train_model")]
)
def test_a_job_killed_while_training_resumes_as_its_rows_say(app, store, finalize_committed, task):
    """The data stages committed and the last units sent when the job was killed: a resume (`run_job` resets
    the unfinished rows, then advances with resend) sends finalize again, or, once the manifest is
    committed, the training task, under the task id it had."""
    make_job(store, {**DATA, "train": 1})
    for stage in ("process", "dedup", "tokenize"):
        commit(store, stage)
    if finalize_committed:
        commit(store, "finalize")
    _, before_kill = step(app, store)
    stage = "train" if finalize_committed else "finalize"
    store.claim_partition("job-1", stage, 0, "worker-that-died", before_kill.sent[0])
    store.reset_unfinished("job-1")
    (sig,), decision = step(app, store, resend=True)
    assert decision.stage == stage and (sig.task, sig.id) == (task, before_kill.sent[0])
    assert sig.options["group_id"] == store.get_partition("job-1", stage, 0).chord_id  # its own chord
    assert app.amqp.router.route({}, task)["queue"].name == ("hpu" if finalize_committed else "default")


def test_the_chord_is_applied_here_not_sent_as_a_task_for_a_default_worker(app, store, monkeypatch):
    """A client that only has an `hpu` worker behind it (`auralith train --submit`) must send the unit itself:
    a `celery.chord` message on `default` would wait for a worker that is not there."""
    make_job(store, {"train": 1})
    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, *args, **kwargs: sent.append(name))
    advance(app, store, "job-1")
    assert sent == ["auralith.train_model"]


def test_a_stage_in_rounds_gets_each_round_once_the_last_is_committed(app, store):
    from auralith.pipeline.components import first_units

    store.create_job("job-1", CONFIG, "h" * 64, "j", "high")
    store.create_partitions(
        "job-1",
        {
            "process": [({"i": 0}, 0), ({"i": 1}, 0)],
            "near_dedup": [(ref, 0) for ref in first_units(2, 2)],
            "tokenize": [({"i": 0}, 0), ({"i": 1}, 0)],
        },
    )
    store.set_job_state("job-1", JobState.RUNNING)
    step(app, store)
    commit(store, "process")
    seen = []
    for sent_in_round in (5, 0, None, None, None):  # label 0 (messages sent), label 1 (none), finish, clusters, summary
        (sig,), decision = step(app, store)
        assert decision.stage == "near_dedup"
        assert step(app, store)[0] == []  # nothing more while the round runs, and no round added twice
        rows = [p for p in store.list_partitions("job-1", "near_dedup") if p.state != "committed"]
        seen.append([(p.input_ref["phase"], p.input_ref.get("round")) for p in rows])
        assert sorted(int(t.id.rsplit(".", 1)[1]) for t in sig.tasks) == [p.index for p in rows]
        for p in rows:
            store.commit_partition(p.id, {"sent": sent_in_round} if sent_in_round is not None else {}, None)
    assert seen == [
        [("label", 0)] * 2,
        [("label", 1)] * 2,
        [("finish", 1)] * 2,
        [("clusters", None)] * 2,
        [("summary", None)],
    ]
    (sig,), decision = step(app, store)
    assert decision.stage == "tokenize" and len(sig.tasks) == 2
    assert len(store.list_partitions("job-1", "near_dedup")) == 9
