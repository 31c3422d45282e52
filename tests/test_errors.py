"""The error hierarchy: messages name what is wrong; errors survive Celery's rebuild from a message."""

from __future__ import annotations

from auralith.errors import AuralithError, ConfigError, InputError


def test_config_error_lists_every_problem():
    err = ConfigError(["a.b: must be > 0", "c: unknown key"], "job.yaml")
    assert str(err) == "job.yaml: invalid config\n  a.b: must be > 0\n  c: unknown key"
    assert isinstance(err, AuralithError)


def test_config_error_rebuilt_from_its_message_keeps_it_whole():
    # Celery rebuilds a task's exception on the client as cls(*args), args being the message.
    original = ConfigError(["sources: List should have at least 1 item"], "job 1")
    rebuilt = ConfigError(*original.args)
    assert rebuilt.problems == [str(original)]
    assert "sources: List should have at least 1 item" in str(rebuilt)


def test_input_error_names_file_line_and_field():
    err = InputError("not valid JSON", file="/data/a.jsonl", line=12, field="text")
    assert str(err) == "/data/a.jsonl:12: not valid JSON (field 'text')"
    assert (err.file, err.line, err.field) == ("/data/a.jsonl", 12, "text")
