"""The verdict: counts, loss by stage, anomalies, expectations, examples (the contract in docs/verdict.md)."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import UsageError

COUNT_FIELDS = (
    "sent",
    "acked",
    "unconfirmed",
    "send_errors",
    "failed",
    "unknown",
    "in_log",
    "damaged",
    "aborted",
    "expired",
    "superseded",
    "processed",
    "unprocessed",
    "overwritten_unread",
)
LOSS_FIELDS = ("producer", "broker", "consumer")
ANOMALY_FIELDS = (
    "duplicates_in_log",
    "duplicates_processed",
    "reordered",
    "corrupted",
    "phantom",
    "inconsistent_offsets",
    "poll_skips",
    "nonmonotonic_polls",
    "aborted_read",
    "lost_committed_write",
    "torn_transaction",
    "duplicate_outputs",
)
#: Figures of a run with transactional producers (``transactions`` in the verdict).
TRANSACTION_FIELDS = (
    "committed",
    "aborted",
    "unknown",
    "committed_records",
    "aborted_records",
    "unknown_records",
    "abandoned_records",
    "aborted_processed",
)

#: Names an expectation may test, and where each lives in the verdict.
METRICS: dict[str, tuple[str, str]] = {
    **{name: ("counts", name) for name in COUNT_FIELDS},
    **{f"{name}_loss": ("loss", name) for name in LOSS_FIELDS},
    "total_loss": ("loss", "*"),
    **{name: ("anomalies", name) for name in ANOMALY_FIELDS},
    **{f"transactions_{name}": ("transactions", name) for name in TRANSACTION_FIELDS},
}

_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_EXPR = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Expectation:
    """``metric op value``, e.g. ``broker_loss == 0`` or ``consumer_loss > 0``."""

    metric: str
    op: str
    value: int

    @property
    def name(self) -> str:
        """Human form, e.g. ``broker_loss == 0``."""
        return f"{self.metric} {self.op} {self.value}"

    def check(self, actual: int) -> bool:
        """Whether ``actual`` meets it."""
        return _OPS[self.op](actual, self.value)


def parse_expectation(metric: str, spec: object) -> Expectation:
    """Parse ``{"broker_loss": 0}`` or ``{"consumer_loss": ">0"}`` style entries.

    Raises:
        UsageError: unknown metric or a condition that is not ``[op] integer``.

    >>> parse_expectation("consumer_loss", ">0").name
    'consumer_loss > 0'
    """
    if metric not in METRICS:
        raise UsageError(f"unknown expectation {metric!r}: use one of {', '.join(METRICS)}")
    m = _EXPR.match(str(spec)) if not isinstance(spec, bool) else None
    if m is None:
        raise UsageError(f"expectation {metric}: {spec!r} is not a number or a comparison such as '>0' or '<=5'")
    return Expectation(metric, m.group(1) or "==", int(m.group(2)))


def parse_expectations(raw: Mapping[str, object]) -> list[Expectation]:
    """Parse a mapping of metric to condition (see :func:`parse_expectation`)."""
    return [parse_expectation(k, v) for k, v in raw.items()]


@dataclass(slots=True)
class Verdict:
    """What the oracle found in one run directory.

    An inconclusive verdict (``trust["conclusive"]`` false: the drain did not read the whole log, a
    ledger is damaged) gives no loss figure: :meth:`as_dict` writes ``null`` for every stage, every
    expectation fails with ``actual: null``, and the figures it could compute are kept, for
    diagnosis only, under ``details.provisional_loss``.
    """

    run_id: str
    experiment: str
    counts: dict[str, int]
    loss: dict[str, int]
    anomalies: dict[str, int]
    examples: dict[str, list[dict[str, Any]]]
    expectations: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    causes: dict[str, dict[str, int]] = field(default_factory=dict)
    transactions: dict[str, int] = field(default_factory=dict)
    transform: dict[str, Any] = field(default_factory=dict)
    availability: list[dict[str, Any]] = field(default_factory=list)
    #: When each stage's lost records were sent: ``[[epoch second, records], ...]`` per stage.
    lost_sent: dict[str, list[list[int]]] = field(default_factory=dict)
    trust: dict[str, Any] = field(default_factory=lambda: {"conclusive": True, "reasons": []})

    @property
    def conclusive(self) -> bool:
        """Whether the verdict's inputs were whole (see the class docstring)."""
        return bool(self.trust.get("conclusive", True))

    @property
    def passed(self) -> bool:
        """Conclusive and every expectation met (true when there are none)."""
        return self.conclusive and all(e["passed"] for e in self.expectations)

    @property
    def stated_loss(self) -> dict[str, int | None]:
        """Loss by stage as the verdict states it: ``None`` for every stage when inconclusive."""
        return {k: (v if self.conclusive else None) for k, v in self.loss.items()}

    def metric(self, name: str) -> int | None:
        """The value of an expectation metric (``None``: a loss figure an inconclusive verdict withholds)."""
        section, key = METRICS[name]
        if section == "loss" and not self.conclusive:
            return None
        if key == "*":
            return sum(self.loss.values())
        value: int = getattr(self, section).get(key, 0)
        return value

    def judge(self, expectations: list[Expectation]) -> None:
        """Evaluate ``expectations`` against this verdict (replacing earlier results)."""
        results = []
        for e in expectations:
            actual = self.metric(e.metric)
            results.append({"name": e.name, "passed": actual is not None and e.check(actual), "actual": actual})
        self.expectations = results

    def as_dict(self) -> dict[str, Any]:
        """The verdict.json object."""
        details = dict(self.details)
        if not self.conclusive:
            details["provisional_loss"] = self.loss
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "passed": self.passed,
            "conclusive": self.conclusive,
            "counts": self.counts,
            "loss": self.stated_loss,
            "causes": self.causes if self.conclusive else {},
            "anomalies": self.anomalies,
            "transactions": self.transactions,
            "transform": self.transform,
            "availability": self.availability,
            "lost_sent": self.lost_sent if self.conclusive else {},
            "trust": self.trust,
            "expectations": self.expectations,
            "examples": self.examples,
            "details": details,
        }

    def write(self, path: Path) -> None:
        """Write verdict.json."""
        path.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
