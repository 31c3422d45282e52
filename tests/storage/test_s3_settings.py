"""S3 settings: the job config's `storage.s3` over the environment, validated with key paths."""

from __future__ import annotations

import threading

import pytest

from auralith.config import parse_config
from auralith.config.storage import S3Settings
from auralith.errors import ConfigError
from auralith.storage import Files, StorageConfig


def test_config_wins_over_environment(monkeypatch):
    monkeypatch.setenv("AURALITH_S3_ENDPOINT_URL", "http://env:9000")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert S3Settings().effective().endpoint_url == "http://env:9000"
    assert S3Settings().effective().region == "eu-west-1"
    assert S3Settings().effective().addressing_style == "path"  # custom endpoints want path-style requests
    own = S3Settings(endpoint_url="http://cfg:9000", region="us-west-2", addressing_style="virtual").effective()
    assert (own.endpoint_url, own.region, own.addressing_style) == ("http://cfg:9000", "us-west-2", "virtual")
    monkeypatch.delenv("AURALITH_S3_ENDPOINT_URL")
    assert S3Settings().effective().addressing_style == "auto"


def test_storage_section_is_validated_with_key_paths():
    base = {"sources": [{"path": "x.jsonl"}], "tokenization": {"tokenizer": "t.json"}}
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {**base, "storage": {"s3": {"endpoint": "x", "max_attempts": 0, "endpoint_url": "localhost:9000"}}}
        )
    assert exc.value.problems == [
        "storage.s3.endpoint_url: String should match pattern '^https?://'",
        "storage.s3.max_attempts: Input should be greater than or equal to 1",
        "storage.s3.endpoint: unknown key",
    ]
    cfg = parse_config({**base, "storage": {"s3": {"endpoint_url": "http://127.0.0.1:9000"}}})
    assert cfg.storage.s3.endpoint_url == "http://127.0.0.1:9000"


def test_a_jobs_endpoint_is_used_for_its_requests(s3_server, bucket, monkeypatch):
    Files().write_bytes_atomic(f"s3://{bucket}/k", b"v")
    monkeypatch.setenv("AURALITH_S3_ENDPOINT_URL", "http://127.0.0.1:1")  # nothing listens there
    job = Files(StorageConfig(s3=S3Settings(endpoint_url=s3_server.endpoint)))
    assert job.read_bytes(f"s3://{bucket}/k") == b"v"


def test_two_jobs_settings_side_by_side_in_threads(s3_server, bucket, monkeypatch):
    """What a threads-pool worker does: units of two jobs at once, each reaching S3 with its own settings,
    including in threads its code starts (no setting to carry over by hand)."""
    Files().write_bytes_atomic(f"s3://{bucket}/k", b"v")
    monkeypatch.setenv("AURALITH_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    good = Files(StorageConfig(s3=S3Settings(endpoint_url=s3_server.endpoint)))
    dead = Files(StorageConfig(s3=S3Settings(endpoint_url="http://127.0.0.1:1", max_attempts=1)))
    got: dict[str, object] = {}

    def read(name: str, files: Files) -> None:
        try:
            got[name] = files.read_bytes(f"s3://{bucket}/k")
        except Exception as exc:  # the dead endpoint's connection error, translated
            got[name] = type(exc).__name__

    threads = [threading.Thread(target=read, args=item) for item in (("good", good), ("dead", dead))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {"good": b"v", "dead": "TransientError"}
