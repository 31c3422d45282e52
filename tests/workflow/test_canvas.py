"""The job canvas: chord(process_i..., dedup) -> chord(tokenize_i..., finalize), built without a broker."""

from __future__ import annotations

import json

from celery.canvas import Signature, _chain, _chord

from auralith.workflow.canvas import StagePlan, job_canvas


def header(ch: _chord) -> list[Signature]:
    return list(ch.tasks)


def test_full_plan_is_a_chain_of_two_chords():
    sig, ids = job_canvas(StagePlan("job-1", process=[0, 1, 2], dedup=True, tokenize=[0, 1, 2], priority=3))
    assert isinstance(sig, _chain)
    first, second = sig.tasks
    assert isinstance(first, _chord) and isinstance(second, _chord)

    for ch, name, body, stage in ((first, "auralith.process_partition", "auralith.dedup_exact", "process"),
                                  (second, "auralith.tokenize_partition", "auralith.finalize_job", "tokenize")):
        tasks = header(ch)
        assert [t.task for t in tasks] == [name] * 3
        assert [tuple(t.args) for t in tasks] == [("job-1", 0), ("job-1", 1), ("job-1", 2)]
        assert all(t.kwargs == {} and t.immutable for t in tasks)
        assert [t.id for t in tasks] == [ids[stage][i] for i in range(3)]
        assert all(t.options["priority"] == 3 for t in tasks)
        assert ch.body.task == body and tuple(ch.body.args) == ("job-1",) and ch.body.immutable
        assert ch.body.options["priority"] == 3
    assert set(ids) == {"process", "tokenize"}
    all_ids = [i for stage in ids.values() for i in stage.values()]
    assert len(set(all_ids)) == 6


def test_headers_carry_only_ids():
    sig, _ = job_canvas(StagePlan("job-1", process=[0], dedup=True, tokenize=[0]))
    first, second = sig.tasks
    for t in header(first) + header(second) + [first.body, second.body]:
        payload = json.dumps([list(t.args), t.kwargs])
        assert len(payload) < 40


def test_fresh_ids_each_time():
    plan = StagePlan("job-1", process=[0], dedup=True, tokenize=[0])
    assert job_canvas(plan)[1] != job_canvas(plan)[1]


def test_reused_ids_are_kept():
    plan = StagePlan("job-1", process=[1, 4], dedup=True, tokenize=[0, 1, 4],
                     task_ids={"process": {4: "lost-process-4"}, "tokenize": {0: "lost-tok-0", 9: "unused"}})
    sig, ids = job_canvas(plan)
    assert ids["process"][4] == "lost-process-4" and ids["process"][1] not in ("lost-process-4", None)
    assert ids["tokenize"][0] == "lost-tok-0" and set(ids["tokenize"]) == {0, 1, 4}
    first, second = sig.tasks
    assert {tuple(t.args)[1]: t.id for t in header(first)} == ids["process"]
    assert {tuple(t.args)[1]: t.id for t in header(second)} == ids["tokenize"]


def test_only_tokenize_left():
    sig, ids = job_canvas(StagePlan("job-1", tokenize=[2], priority=9))
    assert isinstance(sig, _chord)
    assert [(t.task, tuple(t.args)) for t in header(sig)] == [("auralith.tokenize_partition", ("job-1", 2))]
    assert sig.body.task == "auralith.finalize_job"
    assert list(ids) == ["tokenize"]


def test_dedup_left_without_process():
    sig, ids = job_canvas(StagePlan("job-1", dedup=True, tokenize=[0, 1]))
    assert isinstance(sig, _chain)
    dedup, tok = sig.tasks
    assert dedup.task == "auralith.dedup_exact" and tuple(dedup.args) == ("job-1",)
    assert isinstance(tok, _chord) and tok.body.task == "auralith.finalize_job"
    assert list(ids) == ["tokenize"]


def test_only_finalize_when_nothing_is_left():
    sig, ids = job_canvas(StagePlan("job-1", priority=0))
    assert not isinstance(sig, (_chain, _chord))
    assert sig.task == "auralith.finalize_job" and tuple(sig.args) == ("job-1",) and sig.immutable
    assert sig.options["priority"] == 0
    assert ids == {}


def test_no_priority_by_default():
    sig, _ = job_canvas(StagePlan("job-1", process=[0], dedup=True, tokenize=[0]))
    first, _second = sig.tasks
    assert header(first)[0].options.get("priority") is None
