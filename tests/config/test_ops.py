"""The `events` and `limits` sections of a job config."""

from __future__ import annotations

import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError

BASE = {"sources": {"path": "data/*.jsonl"}, "tokenization": {"tokenizer": "tok.json"}}


def _errors(extra: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, **extra})
    return exc.value.problems


def test_defaults_are_off():
    cfg = parse_config(BASE)
    assert cfg.events.jsonl is None and cfg.events.webhook is None
    assert cfg.limits.task_options() == {} and cfg.limits.max_partitions_in_flight is None


def test_webhook_and_limits_parse():
    cfg = parse_config(
        {
            **BASE,
            "events": {
                "jsonl": "events-{job_id}.jsonl",
                "webhook": {"url": "https://hooks.example/${HOOK}", "on": ["failed"]},
            },
            "limits": {"soft_time_limit": 60, "time_limit": 90, "max_partitions_in_flight": 4},
        }
    )
    assert cfg.events.webhook.on == ["failed"] and cfg.events.webhook.max_retries == 8
    assert cfg.limits.task_options() == {"soft_time_limit": 60, "time_limit": 90}


def test_errors_name_their_key_path():
    text = "\n".join(
        _errors(
            {
                "events": {"webhook": {"url": "https://user:pw@hooks.example/x", "timeout": 0, "on": ["exploded"]}},
                "limits": {"soft_time_limit": 10, "time_limit": 5, "max_partitions_in_flight": 0, "memory": 1},
            }
        )
    )
    assert "events.webhook.url: holds a credential" in text
    assert "events.webhook.timeout" in text and "events.webhook.on.0" in text
    assert "limits.max_partitions_in_flight" in text and "limits.memory: unknown key" in text
    assert "limits: soft_time_limit must be below time_limit" in "\n".join(
        _errors({"limits": {"soft_time_limit": 10, "time_limit": 5}})
    )
    assert "expected an http:// or https:// URL" in "\n".join(_errors({"events": {"webhook": {"url": "ftp://x"}}}))


def test_the_jsonl_log_must_be_a_local_file():
    text = "\n".join(_errors({"events": {"jsonl": "s3://logs/{job_id}.jsonl"}}))
    assert "events.jsonl: " in text and "must be a local file" in text
