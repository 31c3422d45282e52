"""docs/quickstart.md's server-mode block (`submit`, then `watch`) run against the session's Redis, PostgreSQL
and worker: the figures it shows are the ones printed."""

from __future__ import annotations

import shlex
import shutil

from click.testing import CliRunner

from auralith.cli.main import main
from tests.corpus import EXAMPLES
from tests.quickstart_doc import bar_lines, blocks, commands, figures


def test_submit_and_watch_print_the_documented_figures(celery_worker, tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("out", "work"))
    monkeypatch.chdir(tmp_path)  # the doc runs from the repository root: examples/demo.yaml
    [(submit, _), (watch, shown)] = next(commands(b) for b in blocks("console") if "submit examples/demo.yaml" in b)
    runner = CliRunner()
    sent = runner.invoke(main, shlex.split(submit)[1:])  # the session worker's broker and store, as AURALITH_*
    assert sent.exit_code == 0, sent.output
    job_id = sent.output.strip()
    watched = runner.invoke(main, [*shlex.split(watch)[1:-1], job_id[:8]], terminal_width=200)
    assert watched.exit_code == 0, watched.output
    assert [figures(line) for line in bar_lines(watched.output)] == [
        figures(line) for line in bar_lines("\n".join(shown))
    ]
