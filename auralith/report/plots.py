"""The report's PNG plots, drawn from a job profile with matplotlib.

`Figure` objects rather than pyplot: no global figure state and no display backend to choose (a bare
`Figure` saves through Agg), so plots can be drawn in any thread of any process.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

from auralith.steps.profile import BINS_PER_DECADE, EDGES, bin_index
from auralith.storage.local import write_bytes_atomic

DPI = 110
LENGTH_SERIES = (
    ("length_before", "before filters", "#9aa5b1"),
    ("length_after_filters", "after filters", "#3b82f6"),
    ("length_output", "output (after dedup)", "#d9480f"),
)


def _save(fig, out_dir: Path, name: str) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    write_bytes_atomic(out_dir / name, buf.getvalue())
    return name


def _step(ax, series: dict, label: str, color: str) -> None:
    """A log-binned histogram as a step line; bin 0 (value 0) is drawn just left of 1."""
    edges = np.array(series["histogram"]["edges"][:-1], dtype=float)
    counts = np.array(series["histogram"]["counts"], dtype=float)
    used = np.nonzero(counts)[0]
    lo, hi = used.min(), used.max()
    # The last bin is open-ended: drawn one bin wide.
    right = edges[hi + 1] if hi + 1 < len(edges) else edges[hi] * 10 ** (1 / BINS_PER_DECADE)
    ax.stairs(
        counts[lo : hi + 1],
        np.append(np.maximum(edges[lo : hi + 1], 0.5), right),
        label=f"{label} (n={series['count']:,})",
        color=color,
        linewidth=1.6,
    )
    ax.axvline(series["quantiles"]["p50"], color=color, linestyle=":", linewidth=1)


def length_histogram(profile: dict, out_dir: Path) -> str | None:
    present = [(profile[key], label, color) for key, label, color in LENGTH_SERIES if profile.get(key)]
    if not present:
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    for series, label, color in present:
        _step(ax, series, label, color)
    ax.set_xscale("log")
    ax.set_xlabel("document length (characters, log scale; dotted: median)")
    ax.set_ylabel("documents per bin")
    ax.set_title("Document length before and after filtering")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return _save(fig, out_dir, "length_histogram.png")


def tokens_histogram(profile: dict, out_dir: Path) -> str | None:
    series = profile.get("tokens_per_document")
    if not series:
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    _step(ax, series, "tokens per document", "#2f9e44")
    ax.set_xscale("log")
    ax.set_xlabel("tokens per document (log scale; dotted: median)")
    ax.set_ylabel("documents per bin")
    ax.set_title("Tokens per document")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return _save(fig, out_dir, "tokens_histogram.png")


def sources_bars(profile: dict, out_dir: Path) -> str | None:
    sources = profile.get("sources") or []
    if not sources:
        return None
    y = np.arange(len(sources))
    fig = Figure(figsize=(10, 1.4 + 0.6 * len(sources)))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, unit in zip(axes, ("documents", "chars"), ("documents", "characters"), strict=True):
        ins, kept = [s[f"{key}_in"] for s in sources], [s[f"{key}_kept"] for s in sources]
        ax.barh(y - 0.2, ins, height=0.4, label="in", color="#9aa5b1")
        ax.barh(y + 0.2, kept, height=0.4, label="kept by filters", color="#3b82f6")
        # Small sources beside big ones get no visible bar: the figures say what the bars cannot.
        for i, (a, b) in enumerate(zip(ins, kept, strict=True)):
            label = f" {a:,} → {b:,}" if key == "documents" else f" {_eng(a)} → {_eng(b)}"
            ax.annotate(label, (max(a, b), i), va="center", fontsize=9)
        ax.set_xlabel(unit)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.margins(x=0.45)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(y, [_short(s["path"]) for s in sources])
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Documents and characters per source (read / kept by the filters)")
    return _save(fig, out_dir, "sources.png")


def removals_bars(profile: dict, out_dir: Path) -> str | None:
    removals = profile.get("removals") or []
    if not removals:
        return None
    fig = Figure(figsize=(8, 1.2 + 0.45 * len(removals)))
    ax = fig.subplots()
    y = np.arange(len(removals))
    ax.barh(y, [r["documents"] for r in removals], color="#e8590c")
    ax.set_yticks(y, [r["reason"] for r in removals])
    ax.invert_yaxis()
    for i, r in enumerate(removals):
        pct = f" ({r['percent_of_input']:.1f} %)" if r["percent_of_input"] is not None else ""
        ax.annotate(f" {r['documents']:,}{pct}", (r["documents"], i), va="center", fontsize=9)
    ax.set_xlabel("documents removed")
    ax.set_title("Removals by reason")
    ax.margins(x=0.25)
    return _save(fig, out_dir, "removals.png")


def cluster_sizes_bars(profile: dict, out_dir: Path) -> str | None:
    clusters = profile.get("dedup_clusters")
    if not clusters or not clusters["sizes"]:
        return None
    sizes = [int(s) for s in clusters["sizes"]]
    counts = list(clusters["sizes"].values())
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    if max(sizes) <= 50:
        ax.bar(sizes, counts, color="#7048e8", width=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # sizes are whole documents: no 2.5 tick
    else:  # many sizes: clusters summed into the profile's log-spaced bins
        binned = np.bincount(bin_index(np.array(sizes)), weights=counts, minlength=len(EDGES))
        used = np.nonzero(binned)[0]
        lo, hi = used.min(), min(used.max() + 1, len(EDGES) - 1)
        ax.stairs(binned[lo:hi], EDGES[lo : hi + 1], fill=True, color="#7048e8")
    if max(counts) > 50:
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)  # a single cluster still gets a visible bar
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if max(sizes) > 50:
        ax.set_xscale("log")
    if max(sizes) <= 50 and len(sizes) <= 30:
        for x, n in zip(sizes, counts, strict=True):
            ax.annotate(f"{n:,}", (x, n), ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("cluster size (documents)")
    ax.set_ylabel(
        ("clusters per size bin" if max(sizes) > 50 else "clusters") + (" (log scale)" if max(counts) > 50 else "")
    )
    ax.set_title(
        f"Near-duplicate clusters: {clusters['clusters']:,} clusters of "
        f"{clusters['documents_in_clusters']:,} documents; all but one of each dropped "
        f"({clusters['duplicates_removed']:,})",
        fontsize=10,
    )
    return _save(fig, out_dir, "cluster_sizes.png")


def pii_bars(profile: dict, out_dir: Path) -> str | None:
    pii = profile.get("pii")
    if not pii:
        return None
    items = sorted(pii.items(), key=lambda kv: -kv[1])
    fig = Figure(figsize=(8, 1.2 + 0.45 * len(items)))
    ax = fig.subplots()
    y = np.arange(len(items))
    ax.barh(y, [n for _, n in items], color="#c2255c")
    ax.set_yticks(y, [k for k, _ in items])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for i, (_, n) in enumerate(items):
        ax.annotate(f" {n:,}", (n, i), va="center", fontsize=9)
    ax.margins(x=0.15)
    ax.set_xlabel("occurrences redacted")
    ax.set_title("PII found, by type")
    return _save(fig, out_dir, "pii.png")


def languages_bars(profile: dict, out_dir: Path, top: int = 30) -> str | None:
    """Documents and tokens written per language, most documents first (the first `top` languages)."""
    languages = profile.get("languages")
    if not languages:
        return None
    items = list(languages.items())[:top]
    fig = Figure(figsize=(10, 1.4 + 0.4 * len(items)))
    ax_docs, ax_tokens = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(items))
    for ax, key, color in ((ax_docs, "documents", "#1c7ed6"), (ax_tokens, "tokens", "#2f9e44")):
        values = [v[key] for _, v in items]
        ax.barh(y, values, color=color)
        for i, n in enumerate(values):
            ax.annotate(f" {_eng(n)}", (n, i), va="center", fontsize=8)
        ax.margins(x=0.2)
        ax.set_xlabel(key)
    ax_docs.set_yticks(y, [k for k, _ in items])
    ax_docs.invert_yaxis()
    more = f" (first {top} of {len(languages)})" if len(languages) > top else ""
    fig.suptitle(f"Documents and tokens written, per language{more}", fontsize=10)
    return _save(fig, out_dir, "languages.png")


def loss_curve(profile: dict, out_dir: Path) -> str | None:
    training = profile.get("training")
    if not training:
        return None
    from auralith.report.loss_curve import plot_loss_curve

    return plot_loss_curve(training["history"], out_dir / "loss_curve.png").name


def _eng(n: float) -> str:
    return EngFormatter(sep="", places=1 if n >= 1000 else 0)(n)


def _short(path: str, width: int = 32) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


PLOTS = (
    ("Documents and characters per source", sources_bars),
    ("Document length", length_histogram),
    ("Removals by reason", removals_bars),
    ("Tokens per document", tokens_histogram),
    ("Near-duplicate cluster sizes", cluster_sizes_bars),
    ("Documents and tokens per language", languages_bars),
    ("PII by type", pii_bars),
    ("Training loss", loss_curve),
)


def draw_all(profile: dict, out_dir: Path) -> dict[str, str]:
    """Draw every plot the profile has data for into `out_dir`; returns {title: file name}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for title, draw in PLOTS:
        name = draw(profile, out_dir)
        if name:
            drawn[title] = name
    return drawn
