"""`report.html`: one page with inline CSS, the profile's tables (pandas `to_html`) and the PNG plots
beside it, so the report folder can be opened, copied or served as it is."""

from __future__ import annotations

from html import escape

import pandas as pd

from auralith.report.merge import QUANTILES

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1f2933; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #d9dee3; }
table { border-collapse: collapse; margin: 0.6em 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #eef0f2; }
th { text-align: left; background: #f5f7f9; } td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; } img { max-width: 100%; border: 1px solid #eef0f2; margin: 0.5em 0; }
.note { color: #616e7c; } .warn { color: #b44d12; }
"""


def _table(df: pd.DataFrame, index: bool = False) -> str:
    return df.to_html(
        index=index, border=0, na_rep="–", escape=True, float_format=_number, formatters=_int_formatters(df)
    )


def _number(v: float) -> str:
    # Lengths and their quantiles are whole numbers; means and percentages are not.
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _int_formatters(df: pd.DataFrame) -> dict:
    return {
        c: (lambda v: f"{int(v):,}" if pd.notna(v) else "–") for c in df.columns if pd.api.types.is_integer_dtype(df[c])
    }


def _img(plots: dict[str, str], title: str) -> str:
    name = plots.get(title)
    return f'<img src="{escape(name)}" alt="{escape(title)}">' if name else ""


def _not_run(what: str) -> str:
    return f'<p class="note">{escape(what)}: not run for this job (no figures in its partition rows).</p>'


def series_table(profile: dict, rows: list[tuple[str, str]]) -> pd.DataFrame:
    """count, mean, min, quantiles, max per series, one row each; series the job lacks are left out."""
    records = []
    for key, label in rows:
        s = profile.get(key)
        if s:
            records.append(
                {
                    "": label,
                    "documents": s["count"],
                    "mean": s["mean"],
                    "min": s["min"],
                    **{k: v for k, v in s["quantiles"].items()},
                    "max": s["max"],
                }
            )
    return pd.DataFrame(records)


def render_html(profile: dict, plots: dict[str, str]) -> str:
    """The report page for a job profile (`merge.build_profile`) and its plots (`plots.draw_all`)."""
    job, totals, parts = profile["job"], profile["totals"], profile["partitions"]
    out: list[str] = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Auralith report: "
        f"{escape(job['name'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Dataset report: {escape(job['name'])}</h1>",
        f"<p class='note'>job {escape(job['id'])} · {escape(job['state'])} · created "
        f"{escape(job['created_at'] or '')}" + (f" · output {escape(job['output'])}" if job["output"] else "") + "</p>",
    ]
    for stage, c in parts.items():
        if c["committed"] < c["total"] or c["profiled"] < c["committed"]:
            out.append(
                f"<p class='warn'>{stage}: {c['committed']} of {c['total']} partitions committed, "
                f"{c['profiled']} of them with a profile; figures below cover those only.</p>"
            )

    out.append("<h2>Totals</h2>")
    totals_df = pd.DataFrame([{"": k.replace("_", " "), "value": v} for k, v in totals.items()])
    out.append(totals_df.to_html(index=False, border=0, formatters={"value": lambda v: f"{v:,}"}))

    out.append("<h2>Sources</h2>")
    sources = pd.DataFrame(profile["sources"])
    if len(sources):
        out.append(
            "<p class='note'>Documents and characters as read (before filters) and kept by the filters "
            "(before dedup); means are characters per document over all partitions.</p>"
        )
        out.append(_table(sources.drop(columns=["source"]).rename(columns=lambda c: c.replace("_", " "))))
        out.append(_img(plots, "Documents and characters per source"))
    else:
        out.append(_not_run("per-source profile"))

    out.append("<h2>Mix</h2>")
    mix = pd.DataFrame(profile.get("mix") or [])
    if len(mix):
        out.append(
            "<p class='note'>Tokens and documents written per source, and its share of the output; with "
            "<code>mixing</code> or source weights, what was asked (share requested, target tokens) beside "
            "what was realised, and the documents the mix left out (removed as <code>sampled_out</code>).</p>"
        )
        mix["path"] = mix["path"].map(lambda p: ", ".join(p) if isinstance(p, list) else p)
        out.append(_table(mix.drop(columns=["source"]).rename(columns=lambda c: c.replace("_", " "))))

    out.append("<h2>Document length</h2>")
    lengths = series_table(
        profile,
        [
            ("length_before", "before filters"),
            ("length_after_filters", "after filters"),
            ("length_output", "output (after dedup)"),
        ],
    )
    if len(lengths):
        err = next(profile[k]["quantile_rank_error"] for k in ("length_before", "length_output") if profile.get(k))
        out.append(
            f"<p class='note'>Characters per document. Quantiles "
            f"({', '.join(f'p{round(q * 100):02d}' for q in QUANTILES)}) come from merged KLL sketches: "
            f"rank error within ±{100 * err:.1f} %.</p>"
        )
        out.append(_table(lengths))
        out.append(_img(plots, "Document length"))

    out.append("<h2>Removals by reason</h2>")
    if profile["removals"]:
        removals = pd.DataFrame(profile["removals"]).rename(columns={"percent_of_input": "% of input"})
        out.append(_table(removals))
        out.append(_img(plots, "Removals by reason"))
        by_source = pd.DataFrame(profile["removals_by_source"]).T
        if len(by_source):
            out.append("<p class='note'>Removed while reading and filtering, by source:</p>")
            out.append(_table(by_source.rename_axis("reason"), index=True))
    else:
        out.append("<p class='note'>Nothing was removed.</p>")

    out.append("<h2>Near-duplicate clusters</h2>")
    clusters = profile.get("dedup_clusters")
    if clusters:
        summary = {k: clusters[k] for k in ("clusters", "documents_in_clusters", "duplicates_removed", "largest")}
        out.append(pd.DataFrame([summary]).rename(columns=lambda c: c.replace("_", " ")).to_html(index=False, border=0))
        out.append(_img(plots, "Near-duplicate cluster sizes"))
    else:
        out.append(_not_run("Near-duplicate detection"))

    out.append("<h2>Languages</h2>")
    if profile.get("languages"):
        langs = pd.DataFrame(
            [
                {"language": k, "documents": v["documents"], "tokens": v["tokens"]}
                for k, v in profile["languages"].items()
            ]
        )
        out.append(_table(langs))
        out.append(_img(plots, "Documents and tokens per language"))
    else:
        out.append(_not_run("Language identification"))

    out.append("<h2>PII</h2>")
    if profile.get("pii") is not None:
        pii = pd.DataFrame([{"type": k, "found": v} for k, v in profile["pii"].items()])
        out.append(_table(pii) if len(pii) else "<p class='note'>No PII found.</p>")
        out.append(_img(plots, "PII by type"))
    else:
        out.append(_not_run("PII redaction"))

    out.append("<h2>Tokens per document</h2>")
    tokens = series_table(profile, [("tokens_per_document", "tokens")])
    if len(tokens):
        out.append(_table(tokens))
        out.append(_img(plots, "Tokens per document"))
    else:
        out.append(_not_run("Tokenization"))

    out.append("<h2>Training</h2>")
    training = profile.get("training")
    if training:
        summary = {k: training[k] for k in ("steps", "first_loss", "last_loss", "last_val_loss", "tokens_seen")}
        out.append(pd.DataFrame([summary]).rename(columns=lambda c: c.replace("_", " ")).to_html(index=False, border=0))
        out.append(_img(plots, "Training loss"))
    else:
        out.append(_not_run("Training"))
    out.append("</body></html>\n")
    return "\n".join(out)
