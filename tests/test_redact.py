"""Credentials come from the environment or a secrets file and are masked wherever text is shown or stored."""

from __future__ import annotations

import io
import logging

import pytest

from auralith.errors import ConfigError
from auralith.redact import (
    RedactingFilter,
    expand,
    install_log_redaction,
    is_secret_key,
    load_secrets_file,
    redact,
    redact_text,
    secret,
)
from auralith.store import Store, migrate


@pytest.mark.parametrize(
    "text",
    [
        "cannot reach redis://:s3cret@redis:6379/0",
        "store postgresql+psycopg://postgres:s3cret@db:5432/auralith?sslmode=require",
        "amqp://guest:s3cret@rabbit//",
        "https://hooks.example/x?token=s3cret&x=1",
        "failed with password=s3cret in it",
        "header Authorization: Bearer s3cretABCDEFGH",
    ],
)
def test_redact_text_masks_credentials(text):
    out = redact_text(text)
    assert "s3cret" not in out and "***" in out


def test_redact_text_leaves_ordinary_text():
    text = "planned 12 partitions over 3.1 MB; see /data/out and http://flower:5555/metrics"
    assert redact_text(text) == text


def test_redact_masks_secret_keys_but_not_tokenizer_settings():
    cfg = {
        "tokenization": {"tokenizer": "gpt2", "eos_token": "</s>", "max_length": 5},
        "s3": {"endpoint": "http://minio:9000", "aws_secret_access_key": "s3cret", "password": "s3cret"},
        "list": [{"api_key": "s3cret"}, "redis://u:s3cret@h/0"],
        "empty": {"token": ""},
        "pii": {"replace": {"secret": "drop"}},
    }
    out = redact(cfg)
    assert "s3cret" not in repr(out)
    assert out["tokenization"] == cfg["tokenization"]
    assert out["s3"]["endpoint"] == "http://minio:9000" and out["s3"]["password"] == "***"
    assert out["empty"]["token"] == ""
    assert out["pii"] == cfg["pii"]  # an action for the PII type `secret`, not a credential
    assert [is_secret_key(k) for k in ("eos_token", "tokenizer", "token", "db_password", "Secret")] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_secrets_from_env_then_file_and_expanded_values_are_masked_later(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("# webhook\nexport HOOK_TOKEN='tok-from-file-123'\n\nOTHER=x\n")
    env = {"AURALITH_SECRETS_FILE": str(path), "OTHER": "from-env"}
    assert load_secrets_file(path) == {"HOOK_TOKEN": "tok-from-file-123", "OTHER": "x"}
    assert secret("OTHER", env) == "from-env"  # the environment wins
    assert expand("https://hooks.example/${HOOK_TOKEN}/x", env) == "https://hooks.example/tok-from-file-123/x"
    # Once expanded, the value is masked wherever it appears, even where no pattern would catch it.
    assert (
        redact_text("POST https://hooks.example/tok-from-file-123/x failed")
        == "POST https://hooks.example/***/x failed"
    )


def test_missing_secret_and_bad_secrets_file_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="secret NOPE is not set in the environment"):
        secret("NOPE", {})
    bad = tmp_path / "bad.env"
    bad.write_text("this is not a pair\n")
    with pytest.raises(ConfigError, match=r"bad.env:1: expected NAME=value"):
        load_secrets_file(bad)


def test_log_filter_masks_formatted_messages():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot reach %s", ("redis://:s3cret@h/0",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "cannot reach redis://:***@h/0"


def test_store_never_holds_credentials(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    config = {"name": "j", "sources": [{"path": "s3://AKIA:s3cret@bucket/x"}], "password": "s3cret"}
    Store(url).create_job("job-1", config, "h", "j", "normal")
    Store(url).add_event("job-1", "could not reach postgresql://u:s3cret@db/x")
    stored = Store(url).get_job("job-1").config
    assert "s3cret" not in repr(stored) and stored["name"] == "j"
    assert [e.message for e in Store(url).list_events("job-1")] == ["could not reach postgresql://u:***@db/x"]


def test_installed_filter_masks_what_child_loggers_write():

    stream = io.StringIO()
    parent = logging.getLogger("auralith-test-redaction")
    parent.addHandler(logging.StreamHandler(stream))
    parent.setLevel(logging.INFO)
    install_log_redaction(parent)
    install_log_redaction(parent)  # once is enough: no second filter
    logging.getLogger("auralith-test-redaction.child").warning("broker %s down", "amqp://u:s3cret@rabbit//")
    assert stream.getvalue() == "broker amqp://u:***@rabbit// down\n"
    assert len(parent.handlers[0].filters) == 1
