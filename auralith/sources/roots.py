"""Allowed roots: the folders a worker may read inputs from and write outputs to.

A job config names paths that workers open. With `AURALITH_ALLOWED_ROOTS` set (folders separated by
`:`) in the workers' environment, every input file, `work_dir`, `output.path`, a tokenizer given as a
path, the JSONL event log and the training checkpoint and cache folders must resolve (symlinks and `..`
followed) inside one of them; anything else is a ConfigError naming the key and the path, raised before
any file is read or written.

Unset, a server process (a `celery worker`, `auralith serve`) confines jobs to its working directory and
the system temp folder (`server_roots`) and says so when it starts; only the embedded `auralith run`, where
the worker is the user's own process, reads wherever the user points it. Roots come from the server's
environment only: a submitted config's folder (`base_dir`) is the submitter's choice, never a root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

from auralith.config import JobConfig
from auralith.errors import ConfigError

ENV_VAR = "AURALITH_ALLOWED_ROOTS"


def allowed_roots(env: Mapping[str, str] = os.environ) -> list[str] | None:
    """The resolved allowed folders, or None when the setting is unset (everything is allowed)."""
    raw = env.get(ENV_VAR, "")
    roots = [os.path.realpath(r) for r in raw.split(os.pathsep) if r.strip()]
    return roots or None


def default_server_roots() -> list[str]:
    """Where a server with no AURALITH_ALLOWED_ROOTS lets jobs read and write: its working directory and the
    system temp folder (for its own scratch files)."""
    return list(dict.fromkeys(os.path.realpath(p) for p in (os.getcwd(), tempfile.gettempdir())))


def server_roots(env: Mapping[str, str] = os.environ) -> list[str]:
    """The roots a server process enforces: AURALITH_ALLOWED_ROOTS, else `default_server_roots()`."""
    return allowed_roots(env) or default_server_roots()


def confine_server(env: os._Environ[str] | dict[str, str] = os.environ) -> str | None:
    """Make this server process (and the pool processes it forks) enforce `server_roots`: with the variable
    unset, set it to the defaults. Returns the line to log when it did, else None."""
    if allowed_roots(env) is not None:
        return None
    roots = default_server_roots()
    env[ENV_VAR] = os.pathsep.join(roots)
    return (
        f"{ENV_VAR} is not set: jobs may read and write only under {' and '.join(roots)} "
        "(this process's working directory and the system temp folder); set it to the folders jobs may use"
    )


def path_problem(path: str, roots: list[str] | None) -> str | None:
    """Why `path` may not be used ("" keys are the caller's), or None when it may."""
    if "\x00" in path:
        return f"{path!r}: a path cannot contain a NUL byte"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return f"{ascii(path)}: the file name is not valid UTF-8; rename it"
    if roots is None or "://" in path:
        # Object-store URLs (s3://) are confined by the credentials the workers hold, not by this setting.
        return None
    real = os.path.realpath(path)
    if any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
        return None
    shown = path if real == os.path.abspath(path) else f"{path} (-> {real})"
    return f"{shown} is outside the allowed roots ({ENV_VAR}={os.pathsep.join(roots)})"


def check_job_paths(cfg: JobConfig, env: Mapping[str, str] = os.environ) -> None:
    """Raise ConfigError for each path of `job_paths` (output, work, tokenizer, block lists, event log,
    checkpoints) that is not allowed.

    Input files are checked one by one as the planner lists them (`plan.list_source_files`).
    """
    roots = allowed_roots(env)
    problems = [f"{key}: {problem}" for key, path in job_paths(cfg) if (problem := path_problem(path, roots))]
    if problems:
        raise ConfigError(problems)


def job_paths(cfg: JobConfig) -> list[tuple[str, str]]:
    """(key, path) of every local path a job's workers write to or load a tokenizer or block list from (not its
    inputs)."""
    paths = [("output.path", cfg.output.path), ("work_dir", cfg.work_dir)]
    url_filter = cfg.preprocessing.url_filter
    for key in ("block_domain_files", "block_substring_files"):
        paths += [(f"preprocessing.url_filter.{key}", path) for path in getattr(url_filter, key)]
    tokenizer = cfg.tokenization.tokenizer
    # A path (a resolved config makes it absolute), not a HuggingFace cache name like "org/model".
    if os.path.isabs(tokenizer) or os.path.exists(tokenizer):
        paths.append(("tokenization.tokenizer", tokenizer))
    if cfg.events.jsonl:
        log = cfg.events.jsonl.replace("{job_id}", "job")
        paths.append(("events.jsonl", os.path.join(cfg.base_dir or os.getcwd(), os.path.expanduser(log))))
    if cfg.training is not None:
        for key in ("checkpoint_dir", "cache_dir"):
            if (value := getattr(cfg.training, key)) is not None:
                paths.append((f"training.{key}", os.path.expanduser(value)))
    return [(key, path) for key, path in paths if "://" not in path]


def check_source_patterns(cfg: JobConfig, env: Mapping[str, str] = os.environ) -> None:
    """ConfigError for each local source pattern whose fixed part (the folders before its first wildcard) is
    outside the allowed roots: a check of what a config asks for, without listing files this process may not
    see (`auralith serve` on another machine than the workers). The planner checks each matched file too."""
    found = allowed_roots(env)
    problems = []
    for i, src in enumerate(cfg.sources):
        for pattern in src.patterns:
            if "://" in pattern:
                continue
            fixed = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
            if (problem := path_problem(fixed or ".", found)) is not None:
                problems.append(f"sources[{i}].path: {problem.replace(fixed, pattern, 1) if fixed else problem}")
    if problems:
        raise ConfigError(problems)
