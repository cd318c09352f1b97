"""How a suite's runs got their clusters, in one line of its reports (from ``suite.json``'s runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Placement(Protocol):
    """Where a run of a suite ran (a row of ``suite.json``, :class:`chaos.results.RunOutcome`)."""

    @property
    def name(self) -> str: ...
    @property
    def cluster(self) -> str: ...
    @property
    def cluster_id(self) -> str: ...


def clusters_line(runs: Sequence[Placement]) -> str:
    """How a suite's runs got their clusters, from ``suite.json``'s runs (empty for older suites).

    >>> from types import SimpleNamespace as Run
    >>> clusters_line([Run(name="a", cluster="fresh", cluster_id="c1"),
    ...     Run(name="b", cluster="reused", cluster_id="c1"),
    ...     Run(name="c", cluster="fresh (reset of c1 failed: x)", cluster_id="c2")])
    '3 runs on 2 clusters, 1 reused after a reset; c started afresh: reset of c1 failed: x'
    >>> clusters_line([Run(name="a", cluster="given", cluster_id="c1")])
    '1 run on cluster c1 (--cluster), reset before each'
    """
    placed = [r for r in runs if r.cluster]
    if not placed:
        return ""
    clusters = {r.cluster_id or r.name for r in placed}
    if all(r.cluster == "given" for r in placed):
        plural = "s" if len(placed) > 1 else ""
        return f"{len(placed)} run{plural} on cluster {', '.join(sorted(clusters))} (--cluster), reset before each"
    reused = sum(r.cluster == "reused" for r in placed)
    line = (
        f"{len(placed)} runs on {len(clusters)} cluster{'s' if len(clusters) > 1 else ''}, "
        f"{reused} reused after a reset"
    )
    for r in placed:
        if r.cluster.startswith("fresh ("):
            line += f"; {r.name} started afresh: {r.cluster[len('fresh (') : -1]}"
    return line
