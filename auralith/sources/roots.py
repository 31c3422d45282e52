"""Allowed roots: the folders a worker may read inputs from and write outputs to.

A job config names paths that workers open. With `AURALITH_ALLOWED_ROOTS` set (folders separated by
`:`) in the workers' environment, every input file, `work_dir`, `output.path` and a tokenizer given as a
path must resolve (symlinks followed) inside one of them; anything else is a ConfigError naming the key
and the path, raised before any file is read or written. Unset: no restriction (a single-user machine).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from auralith.config import JobConfig
from auralith.errors import ConfigError

ENV_VAR = "AURALITH_ALLOWED_ROOTS"


def allowed_roots(env: Mapping[str, str] = os.environ) -> list[str] | None:
    """The resolved allowed folders, or None when the setting is unset (everything is allowed)."""
    raw = env.get(ENV_VAR, "")
    roots = [os.path.realpath(r) for r in raw.split(os.pathsep) if r.strip()]
    return roots or None


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
    """Raise ConfigError for each of the job's output, work, tokenizer and block-list paths that is not allowed.

    Input files are checked one by one as the planner lists them (`plan.list_source_files`).
    """
    roots = allowed_roots(env)
    checks = [("output.path", cfg.output.path), ("work_dir", cfg.work_dir)]
    url_filter = cfg.preprocessing.url_filter
    for key in ("block_domain_files", "block_substring_files"):
        checks += [(f"preprocessing.url_filter.{key}", path) for path in getattr(url_filter, key)]
    tokenizer = cfg.tokenization.tokenizer
    # A path (a resolved config makes it absolute), not a HuggingFace cache name like "org/model".
    if os.path.isabs(tokenizer) or os.path.exists(tokenizer):
        checks.append(("tokenization.tokenizer", tokenizer))
    problems = [f"{key}: {problem}" for key, path in checks if (problem := path_problem(path, roots))]
    if problems:
        raise ConfigError(problems)
