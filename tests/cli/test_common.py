"""The error boundary every command runs in: one red line and exit 1; with --verbose, the traceback first."""

from __future__ import annotations

from click.testing import CliRunner

from auralith.cli.main import main


def test_a_user_error_is_one_line(tmp_path):
    out = CliRunner().invoke(main, ["validate", str(tmp_path / "missing.yaml")])
    assert out.exit_code == 1 and out.output.startswith("error: ") and "file not found" in out.output
    assert "Traceback" not in out.output


def test_verbose_shows_the_traceback_of_the_error_itself(tmp_path):
    out = CliRunner().invoke(main, ["-v", "validate", str(tmp_path / "missing.yaml")])
    assert out.exit_code == 1, out.output
    assert "Traceback" in out.output and "auralith.errors.ConfigError" in out.output
    assert "No active exception" not in out.output and "RuntimeError" not in out.output
    assert "error: " in out.output and "file not found" in out.output


def test_an_unreachable_store_is_one_line():
    out = CliRunner().invoke(main, ["jobs", "--store", "postgresql+psycopg://nobody@127.0.0.1:1/x"])
    assert out.exit_code == 1 and out.output.startswith("error: cannot reach the store at"), out.output
    assert "Traceback" not in out.output


def test_service_options_go_before_or_after_the_command(tmp_path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    before = CliRunner().invoke(main, ["--store", store, "db", "upgrade"])
    after = CliRunner().invoke(main, ["db", "upgrade", "--store", store])
    assert before.exit_code == after.exit_code == 0, before.output + after.output
    assert "migrated to" in before.output and "already at" in after.output
