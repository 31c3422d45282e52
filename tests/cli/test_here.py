"""The command `run` and `train` print after Ctrl-C: pasted, it finishes the job where it stopped."""

from __future__ import annotations

import click
from click.core import ParameterSource
from click.testing import CliRunner

from auralith.cli.here import resume_command
from auralith.cli.main import main
from auralith.cli.run import run
from auralith.cli.train import train
from tests.cli.command import run_auralith


def _context(command: click.Command, config: str, state_dir: str = ".auralith", **explicit: str) -> click.Context:
    root = click.Context(
        main, info_name="auralith", obj={"broker": None, "store": None, "verbose": False, "explicit": explicit}
    )
    ctx = click.Context(command, info_name=command.name, parent=root)
    ctx.params = {"config": config, "state_dir": state_dir}
    return ctx


def test_the_default_state_dir_is_left_out():
    assert resume_command(_context(run, "job.yaml"), "J") == "auralith run job.yaml --resume J"
    assert resume_command(_context(run, "job.yaml", "./.auralith"), "J") == "auralith run job.yaml --resume J"


def test_train_names_its_config_and_state_dir_quoted_for_the_shell():
    ctx = _context(train, "my configs/train.yaml", "/tmp/st ate")
    assert resume_command(ctx, "J") == "auralith train 'my configs/train.yaml' --resume J --state-dir '/tmp/st ate'"


def test_services_given_on_the_command_line_come_along_without_their_password():
    ctx = _context(run, "job.yaml", store="postgresql://u:pw@db/x", broker="redis://127.0.0.1:6379/2")
    assert resume_command(ctx, "J") == (
        "auralith run job.yaml --resume J --store 'postgresql://u:***@db/x' --broker redis://127.0.0.1:6379/2"
    )


def test_workers_come_along_when_given():
    ctx = _context(run, "job.yaml")
    ctx.params["workers"] = 4
    ctx.set_parameter_source("workers", ParameterSource.COMMANDLINE)
    assert resume_command(ctx, "J") == "auralith run job.yaml --resume J --workers 4"


def test_a_resume_with_no_store_in_the_state_dir_stops_before_creating_one(tmp_path, tokenizer_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hello"}\n')
    (tmp_path / "job.yaml").write_text(f"sources: [{{path: a.jsonl}}]\ntokenization: {{tokenizer: {tokenizer_path}}}\n")
    out = run_auralith("run", "job.yaml", "--resume", "abcd1234", "--state-dir", "typo", cwd=tmp_path)
    assert out.returncode == 1 and "no embedded store in typo" in out.stderr, out.stderr
    assert not (tmp_path / "typo").exists()


def test_run_and_train_help_name_their_embedded_defaults():
    for command in ("run", "train"):
        shown = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        assert "default: SQLite in --state-dir" in shown or "Here: default SQLite in --state-dir" in shown, shown
    assert "redis://" not in CliRunner().invoke(main, ["run", "--help"], terminal_width=200).output
    assert "train a small GPT" in CliRunner().invoke(main, ["--help"], terminal_width=200).output
