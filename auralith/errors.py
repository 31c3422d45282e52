"""Auralith's error hierarchy: callers catch `AuralithError`; tasks retry `TransientError` only."""

from __future__ import annotations


class AuralithError(Exception):
    """Base of every error Auralith raises on purpose; the CLI prints its message without a traceback."""


class ConfigError(AuralithError):
    """A job config is invalid. `problems` holds one `key.path: message` line per problem."""

    def __init__(self, problems: list[str] | str, source: str | None = None):
        # A str arrives when Celery rebuilds the error from its message on the client side.
        if isinstance(problems, str):
            source, problems = None, [problems]
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "invalid config\n" + "\n".join(f"  {p}" for p in problems))


class InputError(AuralithError):
    """Bad input data, never retried. Names the file, line and field where known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, field: str | None = None):
        self.file, self.line, self.field = file, line, field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class TokenizerNotFound(AuralithError):
    """A tokenizer path does not exist or a HuggingFace name is not in the local cache."""


class JobNotFound(AuralithError):
    """No job with that id in the store."""


class StoreNotReady(AuralithError):
    """The SQL store is unreachable or its tables are missing."""


class TransientError(AuralithError):
    """A failure worth retrying: I/O hiccups, lost connections, throttling."""


class StorageError(AuralithError):
    """A storage request that retrying cannot fix: no such bucket, access denied, bad credentials."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """No object under that path. Also a FileNotFoundError, so callers treat it like a missing local file."""

    def __init__(self, path: str):
        FileNotFoundError.__init__(self, 2, "No such object", path)

    def __str__(self) -> str:
        return f"{self.filename}: no such object"


def one_line(exc: BaseException) -> str:
    """An exception as one short line for a log (database errors run to many lines)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
