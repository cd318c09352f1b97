"""Expectations: ``metric op value`` conditions an experiment states about its verdict, and the
metrics they may name (where each lives in the verdict)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chaos.errors import UsageError
from chaos.oracle.anomalies import ANOMALY_NAMES
from chaos.oracle.share_figures import SHARE_ANOMALIES, SHARE_FIGURES

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
#: The anomalies, in report order (one function each in :mod:`chaos.oracle.anomalies`).
ANOMALY_FIELDS = ANOMALY_NAMES
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
#: Figures of the consumer groups' assignment changes (``rebalances`` in the verdict), over every
#: group: the changes summed (each member's: one rebalance of three members is three), those after
#: which the member processed nothing summed, the largest pause across one and the most positions
#: processed again after one.
REBALANCE_FIELDS = {
    "assignment_changes": "changes",
    "changes_never_resumed": "never_resumed",
    "change_pause_ms_max": "pause_ms_max",
    "reprocessed_per_change_max": "reprocessed_per_change_max",
}

#: Names an expectation may test, and where each lives in the verdict.
METRICS: dict[str, tuple[str, str]] = {
    **{name: ("counts", name) for name in COUNT_FIELDS},
    **{f"{name}_loss": ("loss", name) for name in LOSS_FIELDS},
    "total_loss": ("loss", "*"),
    **{name: ("anomalies", name) for name in ANOMALY_FIELDS},
    **{f"transactions_{name}": ("transactions", name) for name in TRANSACTION_FIELDS},
    **{name: ("rebalances", key) for name, key in REBALANCE_FIELDS.items()},
    **{f"share_{name}": ("share", name) for name in (*SHARE_FIGURES, *SHARE_ANOMALIES)},
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
