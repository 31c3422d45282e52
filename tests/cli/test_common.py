"""The error boundary every command runs in: one red line and exit 1; with --verbose, the traceback first."""

from __future__ import annotations

import io

from click.testing import CliRunner

from auralith.cli.common import UNWRAPPED_WIDTH, CliConsole
from auralith.cli.main import main
from tests.cli.command import run_auralith


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


def test_output_is_not_wrapped_into_a_pipe_and_wraps_in_a_terminal(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert CliConsole(file=io.StringIO()).width == UNWRAPPED_WIDTH
    assert CliConsole(file=io.StringIO(), force_terminal=True).width < UNWRAPPED_WIDTH
    monkeypatch.setenv("COLUMNS", "120")  # set by the user: it decides
    assert CliConsole(file=io.StringIO()).width == 120


def test_commands_in_a_pipe_print_whole_lines(embedded_job, tmp_path):
    root, job_id = embedded_job
    listed = run_auralith("jobs", "--state-dir", str(root / ".auralith"), cwd=root)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert " succeeded " in row and " normal " in row and str(root / "out") in row, listed.stdout
    long_name = "x" * 150
    failed = run_auralith("validate", long_name, cwd=tmp_path)
    lines = failed.stderr.splitlines()  # "error: NAME: invalid config", "  file not found: NAME"
    assert failed.returncode == 1 and len(lines) == 2 and all(long_name in line for line in lines), lines
