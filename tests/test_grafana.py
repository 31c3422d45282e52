"""deploy/grafana/auralith.json: every query names a series `auralith metrics serve` serves, with labels it has."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY

from auralith.observe.metrics import TASK_DURATION, TASK_RETRIES, TASKS, registry_for
from tests.corpus import REPO
from tests.observe.test_metrics import _store as store_with_a_job

DASHBOARD = REPO / "deploy" / "grafana" / "auralith.json"
# Exposition names of a family of each type (prometheus-client appends these).
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",), "unknown": ("",)}


def _served(tmp_path) -> dict[str, set[str]]:
    """Series name -> its label names, from the store's collector (a store with a job, its partitions, removals and
    heals: tests/observe/test_metrics.py's) and the workers' metrics."""
    url = store_with_a_job(tmp_path)
    registry = registry_for(url, lambda: {"default": 0}, heartbeat_timeout_s=30)
    families = [(f, set()) for f in registry.collect()]
    for worker_metric in (TASKS, TASK_DURATION, TASK_RETRIES):  # served from the workers' multiprocess files
        labels = set(worker_metric._labelnames)
        families += [(f, labels) for f in REGISTRY.collect() if f.name == worker_metric._name]
    served: dict[str, set[str]] = {}
    for family, declared in families:
        labels = set(declared)
        for sample in family.samples:
            labels |= set(sample.labels) - {"le"}
        for suffix in SUFFIXES.get(family.type, ("",)):
            served[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return served


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_query_names_a_served_series_with_its_labels(tmp_path):
    served = _served(tmp_path)
    queries = _queries()
    assert len(queries) >= 15
    for expr in queries:
        names = set(re.findall(r"\bauralith_\w+", expr))
        assert names, f"no Auralith series in {expr!r}"
        for name in names:
            assert name in served, f"{expr!r}: {name} is not a series the exporter serves ({sorted(served)})"
        for selector in re.findall(r"auralith_\w+\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)\s*=~?", selector):
                assert any(label in served[n] for n in names), f"{expr!r}: no served series has label {label}"
        for label in re.findall(r"by \(([^)]*)\)", expr):
            for name in (x.strip() for x in label.split(",")):
                assert any(name in served[n] for n in names), f"{expr!r}: grouped by {name}, which no series has"


def test_the_dashboard_covers_what_the_issue_asks():
    text = " ".join(_queries())
    for series in (
        "auralith_jobs",
        "auralith_partitions",
        "auralith_tokens_processed_total",
        "auralith_heals_total",
        "auralith_queue_messages",
        "auralith_workers",
        'stage="train"',
        "auralith_train_loss",
        "auralith_train_tokens_per_second",
    ):
        assert series in text, series
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus" and dashboard["uid"] == "auralith-overview"
