"""Fixtures of the command-line tests: training shards (the job `auralith run` made: tests/conftest.py)."""

from __future__ import annotations

from tests.train.conftest import shards_manifest  # noqa: F401  (a fixture: tokenized shards to train on)
