"""The `auralith` command line: one module per command family (auralith.cli.main registers them)."""

from auralith.cli.main import main

__all__ = ["main"]
