"""Synthetic share group histories with a known truth, for testing the share oracle
(:mod:`chaos.oracle.share`).

Each record of the log has a plan: the deliveries a broker that keeps KIP-932's rules would make of
it, each to a member, ending as the member decided (accepted, released, rejected, or held when the
member was killed), the decision reaching the broker or not (the member killed after writing it, an
acknowledgement refused once the lock had expired), and how many acquisitions no member recorded
came before it. :func:`build` plays the plans as that broker: a delivery's count is one above the
last acquisition's; an accepted or rejected decision that reached the broker ends the record; a
record released, held or whose decision was lost goes back, or is archived once its count reached
the limit. The rest of a plan is never played. The truth is counted from what the broker did, not
from the rows.

Two things the rows cannot show are kept out, as :mod:`chaos.oracle.share` says: an unrecorded
acquisition is played only below the limit and before a recorded delivery, and only in a record
whose every delivery goes to a member that says its counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from chaos import rundir
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, positions
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import LOG_RECORD, Records, write_meta
from chaos.workloads.share_ledger import DELIVERIES, SHARE_DELIVERY, Ack

Outcome = Literal["accept", "release", "reject", "held"]
_DECISION = {"accept": Ack.ACCEPT, "release": Ack.RELEASE, "reject": Ack.REJECT}
#: The figures :func:`build` knows the truth of (every figure of :class:`~chaos.oracle.share.ShareFindings`).
FIGURES = (
    "records",
    "delivered",
    "deliveries",
    "redelivered",
    "held",
    "accepted",
    "accepted_twice",
    "rejected",
    "archived_at_limit",
    "lost",
    "never_delivered",
    "abandoned",
    "unseen_deliveries",
)
PRODUCER = "p0"
GROUP = "sg"


@dataclass(frozen=True, slots=True)
class Step:
    """One delivery of a plan: to ``member``, ending in ``outcome``; ``reached``: the decision
    reached the broker; ``unseen``: acquisitions no member recorded just before it."""

    member: int
    outcome: Outcome
    reached: bool = True
    unseen: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """The plans of the log's records (record ``i`` at partition ``i % partitions``, offset
    ``i // partitions``), whether each member's client says the delivery count, and the limit."""

    plans: list[list[Step]]
    says_count: list[bool]
    limit: int = 5
    partitions: int = 3


@dataclass(slots=True)
class Built:
    """A played history: the log's positions, each member's rows in file order, the truth."""

    log: I64
    members: dict[str, Records]
    truth: dict[str, int] = field(default_factory=dict)


def member_name(i: int) -> str:
    """The id of member ``i``."""
    return f"m{i}"


def build(history: History) -> Built:
    """Play ``history`` as a broker keeping KIP-932's rules (module docstring)."""
    truth = dict.fromkeys(FIGURES, 0)
    events: dict[int, list[tuple[tuple[int, int], tuple[int, int, int, int]]]] = {}
    limit, parts = history.limit, history.partitions
    for r, plan in enumerate(history.plans):
        where = (r % parts, r // parts)
        counted = all(history.says_count[s.member] for s in plan)
        count = given = accepts = rejects = 0
        archived = False
        for k, step in enumerate(plan):
            unseen = min(step.unseen, limit - 1 - count) if counted else 0
            count += unseen + 1
            given += 1
            truth["unseen_deliveries"] += unseen
            shown = count if history.says_count[step.member] else 0
            rows = events.setdefault(step.member, [])
            rows.append(((2 * k, r), (*where, shown, Ack.DELIVERED)))
            if step.outcome == "held":
                truth["held"] += 1
            else:
                rows.append(((2 * k + 1, r), (*where, shown, _DECISION[step.outcome])))
            accepts += step.outcome == "accept"
            rejects += step.outcome == "reject"
            if step.reached and step.outcome in ("accept", "reject"):
                break
            if count >= limit:  # released, held, or its decision lost: the broker archives it
                archived = True
                break
        truth["records"] += 1
        truth["deliveries"] += given
        truth["delivered"] += given > 0
        truth["redelivered"] += given > 1
        truth["accepted"] += accepts > 0
        truth["accepted_twice"] += accepts > 1
        fate = _fate(accepts, rejects, archived, given)
        if fate:
            truth[fate] += 1
        truth["lost"] += fate in ("abandoned", "never_delivered")
    log = positions(np.arange(len(history.plans)) % parts, np.arange(len(history.plans)) // parts)
    members = {member_name(i): ledger([row for _, row in sorted(rows)]) for i, rows in events.items()}
    return Built(log, members, truth)


def _fate(accepts: int, rejects: int, archived: bool, given: int) -> str:
    """Which of the record figures that exclude each other a record counts in ("": accepted)."""
    if accepts:
        return ""
    if rejects:
        return "rejected"
    if archived:
        return "archived_at_limit"
    return "abandoned" if given else "never_delivered"


def ledger(rows: Sequence[tuple[int, int, int, int]]) -> Records:
    """A member's ``SHARE_DELIVERY`` rows from ``(partition, offset, count, ack)``, in the order
    given (``t_ms``: the row's place; ``seq``: as :func:`write_run` numbers the record).

    >>> ledger([(0, 4, 1, Ack.DELIVERED), (0, 4, 1, Ack.ACCEPT)])[["offset", "seq", "ack", "t_ms"]].tolist()
    [(4, 256, 0, 0), (4, 256, 1, 1)]
    """
    tag = producer_tag(PRODUCER)
    out = [(p, o, tag, _seq(p, o), int(Status.VALID), c, int(a), t) for t, (p, o, c, a) in enumerate(rows)]
    return np.array(out, dtype=SHARE_DELIVERY)


def _seq(partition: int, offset: int) -> int:
    """The sequence number of the record at (``partition``, ``offset``): unique for fewer than 64 partitions."""
    return offset * 64 + partition


def write_run(built: Built, run_dir: Path, extra_log: list[tuple[int, int, int]] | None = None) -> None:
    """Write ``built`` as a run directory: one producer's records in ``drain/log.bin`` (plus
    ``extra_log``: (partition, offset, status) rows of no record of the run), each member's
    ``.json`` meta and ``.deliveries`` ledger."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(ledgers / f"producer-{PRODUCER}.json", {"producer": PRODUCER, "mode": "sync", "start_ns": 0})
    for name, rows in built.members.items():
        meta = {"member": name, "group": GROUP, "topic": "t", "strategy": "share", "start_ns": 0}
        write_meta(ledgers / f"consumer-{name}.json", meta)
        rows.tofile(ledgers / f"consumer-{name}{DELIVERIES}")
    tag = producer_tag(PRODUCER)
    log = [(int(p >> SEQ_BITS), int(p & SEQ_MASK)) for p in built.log]
    rows_out = [(p, o, tag, _seq(p, o), int(Status.VALID)) for p, o in log]
    rows_out += [(p, o, 0, -1, status) for p, o, status in extra_log or []]
    (run_dir / DRAIN).mkdir(parents=True, exist_ok=True)
    np.array(rows_out, dtype=LOG_RECORD).tofile(run_dir / DRAIN / rundir.DRAIN_LOG)
