"""A share group's findings (:mod:`chaos.oracle.share`) as the reports say them, and as expectations
test them (``share_<figure>``, summed over the run's share groups)."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.oracle.share import ShareFindings

#: The figures an expectation may test, as ``share_<name>``: figures of the findings, then anomalies.
SHARE_FIGURES = (
    "delivered",
    "redelivered",
    "held",
    "accepted",
    "accepted_twice",
    "rejected",
    "archived_at_limit",
    "lost",
    "never_delivered",
    "abandoned",
    "unreached",
    "unseen_deliveries",
)
SHARE_ANOMALIES = ("double_delivery", "past_limit", "count_regression", "phantom")


def share_metric(groups: Sequence[ShareFindings], key: str) -> int:
    """``key`` (a figure or an anomaly) summed over ``groups``; 0 where the run had no share group.

    Raises:
        KeyError: not a figure nor an anomaly.
    """
    if key in SHARE_ANOMALIES:
        return sum(int(getattr(g.anomalies, key)) for g in groups)
    if key not in SHARE_FIGURES:
        raise KeyError(key)
    return sum(int(getattr(g, key)) for g in groups)


def share_sentence(f: ShareFindings) -> str:
    """One line, as every report says it.

    >>> f = ShareFindings(group="g", limit=3, records=100, delivered=100, deliveries=130, redelivered=12,
    ...     held=9, accepted=97, accepted_twice=2, rejected=0, archived_at_limit=3, lost=0, never_delivered=0,
    ...     abandoned=0, unseen_deliveries=1, orphan_decisions=0, invalid_rows=0)
    >>> for part in share_sentence(f).split("; "): print(part)
    share group g: 100 of 100 records delivered (130 deliveries, 12 records more than once, 9 held at a kill)
    97 accepted (2 twice)
    3 archived at the delivery limit (3)
    1 deliveries no ledger recorded (a count skipped: fetched, never polled)
    """
    parts = [
        f"share group {f.group}: {f.delivered} of {f.records} records delivered ({f.deliveries} deliveries, "
        f"{f.redelivered} records more than once, {f.held} held at a kill)",
        f"{f.accepted} accepted ({f.accepted_twice} twice)",
    ]
    if f.rejected:
        parts.append(f"{f.rejected} rejected")
    if f.archived_at_limit:
        parts.append(f"{f.archived_at_limit} archived at the delivery limit ({f.limit})")
    if f.lost:
        parts.append(f"{f.lost} lost ({f.never_delivered} never delivered, {f.abandoned} abandoned)")
    if f.unreached:
        parts.append(
            f"{f.unreached} unreached (not done when the run stopped: at or past its start offset, or Kafka gave none)"
        )
    if f.unseen_deliveries:
        parts.append(f"{f.unseen_deliveries} deliveries no ledger recorded (a count skipped: fetched, never polled)")
    wrong = [f"{getattr(f.anomalies, k)} {k.replace('_', ' ')}" for k in SHARE_ANOMALIES if getattr(f.anomalies, k)]
    if wrong:
        parts.append("broker anomalies: " + ", ".join(wrong))
    return "; ".join(parts)
