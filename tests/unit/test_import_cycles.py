"""No import circle anywhere in chaos/: not between packages (import-linter's layers hold those), and
not inside a package, where a helper importing its owner back (also under ``TYPE_CHECKING``, also
inside a function) is a circle the layers contracts cannot see."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest


def circles(package: str) -> list[list[str]]:
    """Every set of modules of ``package`` that import each other round, directly or not (the
    strongly connected components of more than one module), by Tarjan's algorithm."""
    graph = grimp.build_graph(package)
    edges = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_of_chaos_imports_itself_back_round_a_circle() -> None:
    assert circles("chaos") == [], "break these circles: a helper takes the narrow callable or Protocol it needs"


def test_the_check_sees_a_circle_hidden_behind_type_checking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "loop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "owner.py").write_text("from loop.helper import help_\n")
    (pkg / "helper.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop.owner import x\ndef help_(): ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert circles("loop") == [["loop.helper", "loop.owner"]]
