"""Write a job's report folder: `profile.json`, the PNG plots and `report.html`, each file atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auralith.report.html import render_html
from auralith.report.plots import draw_all
from auralith.storage.local import write_bytes_atomic

PROFILE_NAME = "profile.json"
HTML_NAME = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    profile_json: Path
    plots: dict[str, Path]  # title -> PNG


def write_report(profile: dict, out_dir: str | Path) -> ReportFiles:
    """Write the plots, `profile.json` (the profile plus the plots' file names) and `report.html` into
    `out_dir`; the page last, so it never points at a plot not yet written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = draw_all(profile, out)
    profile = {**profile, "plots": plots}
    write_bytes_atomic(out / PROFILE_NAME, json.dumps(profile, indent=2).encode())
    write_bytes_atomic(out / HTML_NAME, render_html(profile, plots).encode())
    return ReportFiles(out / HTML_NAME, out / PROFILE_NAME, {title: out / name for title, name in plots.items()})
