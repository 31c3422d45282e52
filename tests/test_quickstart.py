"""docs/quickstart.md shows what the commands print: every console block with output is run here (or in
tests/integration/test_quickstart_servers.py, or listed below with the reason it cannot be), and its
figures compared, so they cannot drift from the code again."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.command import run_auralith
from tests.corpus import EXAMPLES, REPO
from tests.quickstart_doc import bar_lines, blocks, commands, figures

# Console blocks not run here, by their first command, and why.
ELSEWHERE = {
    "auralith run big.yaml": "Ctrl-C in a 25 MB job: what it has committed depends on the moment of the key press",
    "auralith submit big.yaml --priority high": "a cancel at some moment of a 25 MB job on servers: timing decides",
    "auralith submit examples/demo.yaml": "needs servers and a worker: tests/integration/test_quickstart_servers.py",
}
RUN_HERE = {"auralith tokenizer train", "auralith db upgrade"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    """(folder, stdout) of the quickstart's `auralith run examples/demo.yaml`, on a copy of examples/."""
    root = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns("out", "work"))
    done = run_auralith("run", "examples/demo.yaml", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, done.stdout


def test_every_console_block_is_run_or_says_why_not():
    for block in blocks("console"):
        first = commands(block)[0][0]
        assert first in ELSEWHERE or any(first.startswith(c) for c in RUN_HERE), f"run it here or list it: {first}"


def test_the_demo_prints_the_documented_figures(demo):
    _, out = demo
    [shown] = [b for b in blocks("text") if "running with" in b]
    assert figures(shown) == figures(out), out
    assert [figures(line) for line in bar_lines(shown)] == [figures(line) for line in bar_lines(out)]


def test_tokenizer_train_prints_the_documented_figures(demo, tmp_path):
    root, _ = demo
    [(command, shown)] = next(commands(b) for b in blocks("console") if "tokenizer train" in b)
    args = shlex.split(command)[1:]
    args[args.index("--out") + 1] = str(tmp_path / "tokenizer.json")
    done = run_auralith(*args, cwd=root)
    assert done.returncode == 0, done.stderr
    assert figures("\n".join(shown)) == figures(done.stdout), done.stdout
    # The demo's tokenizer was made this way: the same bytes.
    assert (tmp_path / "tokenizer.json").read_bytes() == (EXAMPLES / "tokenizer.json").read_bytes()


def test_db_upgrade_prints_the_documented_revision(tmp_path):
    [steps] = [commands(b) for b in blocks("console") if "db upgrade" in b]
    store = f"sqlite:///{tmp_path / 'store.db'}"
    for command, shown in steps:
        done = run_auralith(*shlex.split(command)[1:], "--store", store, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert figures("\n".join(shown)) == figures(done.stdout), done.stdout
        assert shown[0].split(": ", 1)[1].split()[0] == done.stdout.split(": ", 1)[1].split()[0]  # migrated/already


def _expected_output(code: str) -> str:
    """What the block's prints show: a print's own comment, or the comment lines right under it."""
    shown: list[str] = []
    lines = code.splitlines()
    for i, line in enumerate(lines):
        if "print(" not in line:
            continue
        if "#" in line.split("print(", 1)[1]:
            shown.append(line.rsplit("# ", 1)[1])
            continue
        for below in lines[i + 1 :]:
            if not below.startswith("# "):
                break
            shown.append(below[2:])
    return "\n".join(shown)


@pytest.mark.parametrize("index", [0, 1])
def test_read_the_shards_prints_what_is_shown(demo, index):
    root, _ = demo
    code = [b for b in blocks("python") if "examples/out/demo" in b][index]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, whichever one the environment installed
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Sorted words, punctuation aside: safetensors hands its metadata back in any order.
    words = re.compile(r"[\w./()-]+")
    assert sorted(words.findall(done.stdout)) == sorted(words.findall(_expected_output(code))), done.stdout
