"""The `auralith` command line: one module per command family, registered on the group in auralith.cli.main."""

from auralith.cli.main import main

__all__ = ["main"]
