"""docs/quickstart.md read as a test reads it: its code blocks, the commands of its console blocks with the output
shown under each, and the figures in a piece of output."""

from __future__ import annotations

import re

from tests.corpus import REPO

QUICKSTART = REPO / "docs" / "quickstart.md"

_UUID = re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b")
_NOT_FIGURES = [
    _UUID,
    re.compile(r"\S+://\S+"),  # URLs (and the port and database in them)
    re.compile(r"\b\d+:\d\d:\d\d\b"),  # elapsed time and ETA of a bar
    re.compile(r"\b\d+(?:\.\d+)? s\b"),  # how long the job took
    re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b"),  # event times
    re.compile(r"(?:/[\w.-]+)+"),  # paths
    re.compile(r"\b\d+ worker processes\b"),  # `auralith run`'s default: the machine's cores
]
_FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def blocks(language: str) -> list[str]:
    """The bodies of the doc's fenced blocks in `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", QUICKSTART.read_text(), flags=re.S | re.M)


def commands(console_block: str) -> list[tuple[str, list[str]]]:
    """(command, output lines shown under it) for each `$ ` line of a console block."""
    found: list[tuple[str, list[str]]] = []
    for line in console_block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:].split("  #")[0].strip(), []))
        elif found:
            found[-1][1].append(line)
    return found


def figures(text: str) -> list[str]:
    """The numbers in `text` that a run must reproduce: not ids, URLs, times, durations or paths."""
    for pattern in _NOT_FIGURES:
        text = pattern.sub(" ", text)
    return _FIGURE.findall(text)


def bar_lines(text: str) -> list[str]:
    """The progress-bar lines of `run` or `watch` output, one per stage."""
    return [line for line in text.splitlines() if re.match(r"(process|dedup|tokenize)\s+━", line)]
