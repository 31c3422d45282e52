"""The house's floor plan, checked: pure layers load no framework, and no module imports itself back.

The layer contracts themselves are import-linter's (`lint-imports`, pyproject.toml), run by .ci/run."""

from __future__ import annotations

import json
import subprocess
import sys

import grimp
import pytest

from tests.corpus import REPO

PURE_PACKAGES = ("auralith.steps", "auralith.sources", "auralith.config")


def _modules(package: str) -> list[str]:
    return sorted(
        m for m in grimp.build_graph("auralith", cache_dir=None).modules if m == package or m.startswith(package + ".")
    )


def _loaded_after_import(modules: list[str]) -> dict[str, list[str]]:
    """For each module, which of celery / kombu / sqlalchemy / torch a fresh interpreter has loaded after
    importing it alone."""
    code = """
import importlib, json, sys
heavy = ("celery", "kombu", "sqlalchemy", "torch")
out = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    out[name] = sorted(h for h in heavy if h in sys.modules)
print(json.dumps(out))
"""
    found: dict[str, list[str]] = {}
    for name in modules:  # one interpreter per module: what one module loads must not hide another's
        out = subprocess.run([sys.executable, "-c", code, name], cwd=REPO, capture_output=True, text=True, check=True)
        found.update(json.loads(out.stdout))
    return found


def test_importing_a_step_loads_neither_celery_nor_sqlalchemy():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import auralith.steps.minhash, sys; "
            "assert 'celery' not in sys.modules and 'sqlalchemy' not in sys.modules",
        ],
        cwd=REPO,
    )
    assert out.returncode == 0


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_every_pure_module_loads_no_framework(package):
    loaded = _loaded_after_import(_modules(package))
    assert loaded and {m: found for m, found in loaded.items() if found} == {}


def test_no_module_imports_itself_back():
    """No import cycle between Auralith's modules, function-level imports included (a cycle broken by a
    function-level import is still a cycle): the strongly connected components of the import graph."""
    graph = grimp.build_graph("auralith", exclude_type_checking_imports=True, cache_dir=None)
    edges = {
        m: {n for n in graph.find_modules_directly_imported_by(m) if n.startswith("auralith")} for m in graph.modules
    }
    assert _cycles(edges) == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (iterative: the graph is deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
