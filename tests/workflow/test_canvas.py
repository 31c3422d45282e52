"""The job canvas, one stage at a time: chord(process_i..., dedup_exact), then (started by dedup_exact)
chord(tokenize_i..., finalize_job). Built without a broker."""

from __future__ import annotations

import json

from celery.canvas import Signature, _chain, _chord

from auralith.workflow.canvas import StagePlan, job_canvas


def header(ch: _chord) -> list[Signature]:
    return list(ch.tasks)


def _check_chord(ch, name: str, body: str, ids: dict[int, str], priority) -> None:
    tasks = header(ch)
    assert [t.task for t in tasks] == [name] * len(ids)
    assert [tuple(t.args) for t in tasks] == [("job-1", i) for i in sorted(ids)]
    assert all(t.kwargs == {} and t.immutable for t in tasks)
    assert [t.id for t in tasks] == [ids[i] for i in sorted(ids)]
    assert all(t.options.get("priority") == priority for t in tasks)
    assert ch.body.task == body and tuple(ch.body.args) == ("job-1",) and ch.body.immutable
    assert ch.body.options.get("priority") == priority


def test_process_stage_first_and_alone():
    sig, ids = job_canvas(StagePlan("job-1", process=[0, 1, 2], dedup=True, tokenize=[0, 1, 2], priority=3))
    # Not chained to the tokenize chord: that would copy it into every process message (O(N^2) bytes).
    assert isinstance(sig, _chord) and not isinstance(sig, _chain)
    assert list(ids) == ["process"] and len(set(ids["process"].values())) == 3
    _check_chord(sig, "auralith.process_partition", "auralith.dedup_exact", ids["process"], 3)


def test_message_size_does_not_grow_with_the_other_stage():
    small = job_canvas(StagePlan("job-1", process=[0], dedup=True, tokenize=[0]))[0]
    big = job_canvas(StagePlan("job-1", process=[0], dedup=True, tokenize=list(range(500))))[0]
    assert len(json.dumps(dict(small))) == len(json.dumps(dict(big)))


def test_headers_carry_only_ids():
    sig, _ = job_canvas(StagePlan("job-1", process=[0], dedup=True, tokenize=[0]))
    for t in header(sig) + [sig.body]:
        assert len(json.dumps([list(t.args), t.kwargs])) < 40


def test_fresh_ids_each_time():
    plan = StagePlan("job-1", process=[0], dedup=True, tokenize=[0])
    assert job_canvas(plan)[1] != job_canvas(plan)[1]


def test_reused_ids_are_kept():
    plan = StagePlan("job-1", process=[1, 4], dedup=True, tokenize=[0, 1, 4],
                     task_ids={"process": {4: "lost-process-4", 9: "unused"}})
    sig, ids = job_canvas(plan)
    assert ids["process"][4] == "lost-process-4" and ids["process"][1] not in ("lost-process-4", None)
    assert {tuple(t.args)[1]: t.id for t in header(sig)} == ids["process"]


def test_tokenize_stage_when_dedup_is_done():
    sig, ids = job_canvas(StagePlan("job-1", tokenize=[0, 2], priority=9, task_ids={"tokenize": {2: "lost"}}))
    assert isinstance(sig, _chord) and ids["tokenize"][2] == "lost"
    _check_chord(sig, "auralith.tokenize_partition", "auralith.finalize_job", ids["tokenize"], 9)


def test_dedup_left_without_process_runs_dedup_alone():
    sig, ids = job_canvas(StagePlan("job-1", dedup=True, tokenize=[0, 1]))
    assert not isinstance(sig, (_chain, _chord))
    assert sig.task == "auralith.dedup_exact" and tuple(sig.args) == ("job-1",) and ids == {}


def test_only_finalize_when_nothing_is_left():
    sig, ids = job_canvas(StagePlan("job-1", priority=0))
    assert not isinstance(sig, (_chain, _chord))
    assert sig.task == "auralith.finalize_job" and tuple(sig.args) == ("job-1",) and sig.immutable
    assert sig.options["priority"] == 0
    assert ids == {}


def test_near_dedup_bands_fan_out_with_job_and_band_only():
    from auralith.workflow.canvas import near_dedup_canvas

    ids = {0: "t0", 3: "t3", 13: "t13"}  # the bands left after a resume
    sig = near_dedup_canvas("job-1", ids, {"priority": 2})
    assert isinstance(sig, _chord)
    _check_chord(sig, "auralith.minhash_band", "auralith.dedup_near", ids, 2)
    done = near_dedup_canvas("job-1", {}, {"priority": 2})  # every band committed: only the join
    assert done.task == "auralith.dedup_near" and tuple(done.args) == ("job-1",)
def test_priority_and_limits_reach_every_task_of_every_stage():
    opts = {"soft_time_limit": 60, "time_limit": 90}
    stages = [StagePlan("job-1", process=[0, 1], dedup=True, tokenize=[0, 1], priority=0, options=opts),
              StagePlan("job-1", dedup=True, tokenize=[0, 1], priority=0, options=opts),
              StagePlan("job-1", tokenize=[0, 1], priority=0, options=opts),
              StagePlan("job-1", priority=0, options=opts)]
    for plan in stages:
        sig = job_canvas(plan)[0]
        sigs = header(sig) + [sig.body] if isinstance(sig, _chord) else [sig]
        for s in sigs:
            assert {k: s.options.get(k) for k in ("priority", *opts)} == {"priority": 0, **opts}, s.task
