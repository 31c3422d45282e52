"""A job's heals summed up by reason, with the newest last."""

from __future__ import annotations

from auralith.observe.heals import summarize_heals
from auralith.store import Store


def test_heals_count_by_reason_and_keep_the_last(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.upgrade()
    store.create_job("j", {}, "h", "j", "normal")
    store.create_job("other", {}, "h", "o", "normal")
    store.add_heal("j", "process", 1, "worker_dead", "worker p@a silent for 34 s (redelivery 1 of at most 3)")
    store.add_heal("j", "process", 4, "message_lost", "its message is not on the broker")
    store.add_heal("j", "process", 2, "worker_dead", "worker p@a silent for 34 s (redelivery 1 of at most 3)")
    store.add_heal("j", "dedup", None, "stalled", "stage dedup sent: stage process finished 20 s ago")
    store.add_heal("other", "tokenize", 0, "run_lost", "worker t@b no longer runs it")

    summary = summarize_heals(store.list_heals("j"), last=2)
    assert summary.total == 4
    assert summary.line() == "healed: 4 (worker_dead 2, message_lost 1, stalled 1)"
    as_dict = summary.to_dict()
    assert as_dict["by_reason"] == {"worker_dead": 2, "message_lost": 1, "stalled": 1}
    assert [(h["stage"], h["index"], h["reason"]) for h in as_dict["last"]] == [
        ("process", 2, "worker_dead"),
        ("dedup", None, "stalled"),
    ]
    assert as_dict["last"][0]["time"] and "silent for 34 s" in as_dict["last"][0]["detail"]
    assert summarize_heals([]).to_dict() == {"total": 0, "by_reason": {}, "last": []}
