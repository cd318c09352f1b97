"""The share group oracle: every figure equals the truth of synthetic histories a KIP-932 broker
could have made, such a history never shows an anomaly, and each injected anomaly is found alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.oracle.keys import positions
from chaos.oracle.share import ShareAnomalies, ShareFindings, judge_share
from chaos.oracle.share_run import judge_share_run
from chaos.oracle.synthetic_share import FIGURES, GROUP, History, Outcome, Step, build, ledger, write_run
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import write_meta
from chaos.workloads.share_ledger import DELIVERIES, Ack

D, A, R, J = Ack.DELIVERED, Ack.ACCEPT, Ack.RELEASE, Ack.REJECT
OUTCOMES: list[Outcome] = ["accept", "release", "reject", "held"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn, min_limit: int = 1) -> History:
    members = draw(st.integers(min_value=1, max_value=3))
    says_count = draw(st.lists(st.booleans(), min_size=members, max_size=members))
    limit = draw(st.integers(min_value=min_limit, max_value=6))
    step = st.builds(
        Step,
        member=st.integers(min_value=0, max_value=members - 1),
        outcome=st.sampled_from(OUTCOMES),
        reached=st.booleans(),
        unseen=st.integers(min_value=0, max_value=2),
    )
    # a plan longer than the broker plays is cut where the record is done
    plans = draw(st.lists(st.lists(step, max_size=limit + 2), max_size=14))
    return History(plans, says_count, limit)


def figures(found: ShareFindings) -> dict[str, int]:
    return {name: getattr(found, name) for name in FIGURES}


@FAST
@given(histories())
def test_every_figure_is_the_truth_and_a_legitimate_history_has_no_anomaly(history: History) -> None:
    built = build(history)
    found = judge_share(built.log, built.members, history.limit)
    assert figures(found) == built.truth
    assert found.anomalies == ShareAnomalies()
    assert (found.orphan_decisions, found.invalid_rows) == (0, 0)
    assert found.accepted + found.rejected + found.archived_at_limit + found.lost == found.records
    assert found.lost == found.never_delivered + found.abandoned
    for name, where in found.examples.items():
        assert 0 < len(where) <= min(10, getattr(found, name)), name
    assert set(found.examples) == {n for n in FIGURES if n not in ("records", "deliveries") and getattr(found, n)}


FRESH = (63, 0)  # a record of the log no plan delivers
PHANTOM = (62, 7)  # a position the log does not hold


def injected(kind: str, limit: int, one_member: bool) -> dict[str, list[tuple[int, int, int, int]]]:
    """Rows of new members that make exactly one case of ``kind`` (a double delivery: to one member
    twice, or to two)."""
    p, o = FRESH
    if kind == "double_delivery" and one_member:
        return {"x1": [(p, o, 1, D), (p, o, 1, R), (p, o, 1, D)]}
    if kind == "double_delivery":
        return {"x1": [(p, o, 1, D), (p, o, 1, A)], "x2": [(p, o, 1, D)]}
    if kind == "past_limit":
        return {"x1": [(p, o, limit + 1, D), (p, o, limit + 1, R)]}
    if kind == "count_regression":  # 2 then 1, each once: no double delivery
        return {"x1": [(p, o, 2, D), (p, o, 2, R), (p, o, 1, D)]}
    return {"x1": [(*PHANTOM, 1, D), (*PHANTOM, 1, A)]}


@FAST
@given(
    histories(min_limit=2),
    st.sampled_from(["double_delivery", "past_limit", "count_regression", "phantom"]),
    st.booleans(),
)
def test_each_injected_anomaly_is_found_and_alone(history: History, kind: str, one_member: bool) -> None:
    built = build(history)
    log = np.append(built.log, positions(np.array([FRESH[0]]), np.array([FRESH[1]])))
    members = {**built.members, **{m: ledger(rows) for m, rows in injected(kind, history.limit, one_member).items()}}
    found = judge_share(log, members, history.limit)
    assert found.anomalies.model_dump() == {name: int(name == kind) for name in ShareAnomalies.model_fields}
    where = PHANTOM if kind == "phantom" else FRESH
    assert found.examples[kind] == [where]
    assert found.orphan_decisions == 0


def test_every_delivery_state_by_hand() -> None:
    limit = 3
    says = [
        (0, 0, 1, D), (0, 0, 1, A),  # accepted at once
        (0, 1, 1, D), (0, 1, 1, R),  # released, then accepted by m2
        (0, 2, 1, D), (0, 2, 1, A),  # accepted, the acknowledgement lost: accepted again by m2
        (0, 3, 1, D), (0, 3, 1, J),  # rejected
        (0, 4, 1, D), (0, 4, 1, R), (0, 4, 2, D), (0, 4, 2, R), (0, 4, 3, D), (0, 4, 3, R),  # released to the limit
        (0, 5, 1, D), (0, 5, 2, D), (0, 5, 3, D),  # held to the limit (restarted each time)
        (0, 6, 1, D),  # held once, never given again
        (0, 7, 1, D), (0, 7, 1, R),  # released once, never given again
        (0, 9, 1, D), (0, 9, 1, R), (0, 9, 3, D), (0, 9, 3, A),  # an acquisition nobody recorded (count 2)
        (0, 10, 1, D), (0, 10, 1, J),  # rejected, the rejection lost, then accepted by m2
    ]  # fmt: skip
    silent = [
        (1, 0, 0, D), (1, 0, 0, R), (1, 0, 0, D), (1, 0, 0, R), (1, 0, 0, D), (1, 0, 0, R),  # no count: 3 deliveries
        (1, 1, 0, D), (1, 1, 0, R),  # no count: 1 delivery, released
        (1, 2, 0, D), (1, 2, 0, R), (1, 2, 0, D), (1, 2, 0, A),  # no count, given twice to one member
    ]  # fmt: skip
    second = [(0, 1, 2, D), (0, 1, 2, A), (0, 2, 2, D), (0, 2, 2, A), (0, 10, 2, D), (0, 10, 2, A)]
    members = {"m1": ledger(says), "m2": ledger(second), "m3": ledger(silent)}
    log = positions(np.array([0] * 11 + [1] * 3), np.array([*range(11), 0, 1, 2]))  # (0, 8): never delivered
    found = judge_share(log, members, limit)
    assert figures(found) == {
        "records": 14,
        "delivered": 13,
        "deliveries": 24,
        "redelivered": 8,  # (0, 1), (0, 2), (0, 4), (0, 5), (0, 9), (0, 10), (1, 0), (1, 2)
        "held": 4,
        "accepted": 6,  # (0, 0), (0, 1), (0, 2), (0, 9), (0, 10), (1, 2)
        "accepted_twice": 1,
        "rejected": 1,
        "archived_at_limit": 3,  # (0, 4), (0, 5), (1, 0)
        "lost": 4,
        "never_delivered": 1,
        "abandoned": 3,  # (0, 6), (0, 7), (1, 1)
        "unseen_deliveries": 1,
    }
    assert found.anomalies == ShareAnomalies() and found.orphan_decisions == 0
    assert found.examples["archived_at_limit"] == [(0, 4), (0, 5), (1, 0)]
    assert found.examples["never_delivered"] == [(0, 8)]
    assert found.examples["accepted_twice"] == [(0, 2)]
    assert found.examples["abandoned"] == [(0, 6), (0, 7), (1, 1)]


def test_a_damaged_ledger_is_counted_not_taken_for_the_broker() -> None:
    rows = [
        (0, 0, 1, A),  # a decision with no delivery before it: still an acceptance
        (0, 1, 1, D), (0, 1, 1, R), (0, 1, 1, R),  # one decision too many
        (0, 2, 2, R), (0, 2, 2, D),  # the decision before its delivery: that delivery is held
        (0, 3, 1, D), (0, 3, 2, A),  # a decision on another count than the delivery's
        (0, -1, 1, D), (0, 4, 1, 7),  # no position, no such ack
    ]  # fmt: skip
    log = positions(np.zeros(5, dtype=np.int64), np.arange(5))
    found = judge_share(log, {"m": ledger(rows)}, limit=5)
    assert (found.orphan_decisions, found.held, found.invalid_rows) == (4, 2, 2)
    assert found.examples["orphan_decisions"] == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert (found.accepted, found.abandoned, found.never_delivered, found.deliveries) == (2, 2, 1, 3)
    assert found.anomalies == ShareAnomalies()


def test_a_double_delivery_to_two_members_and_the_limit_checked() -> None:
    rows = {"a": ledger([(0, 0, 2, D), (0, 0, 2, A)]), "b": ledger([(0, 0, 2, D), (0, 0, 2, R), (0, 0, 0, D)])}
    found = judge_share(positions(np.array([0]), np.array([0])), rows, limit=1)
    assert found.anomalies == ShareAnomalies(double_delivery=1, past_limit=2)
    assert found.examples["double_delivery"] == found.examples["past_limit"] == [(0, 0)]
    with pytest.raises(ValueError, match="at least 1"):
        judge_share(positions(np.array([0]), np.array([0])), rows, limit=0)


def test_one_acquisition_given_twice_is_not_two_toward_the_limit() -> None:
    # the broker gave count 1 to two members (a double delivery), both released it, and it was never
    # given again: its count reached 1 of 2, so it was not archived; it is lost (abandoned), and
    # the double delivery is the anomaly that says why
    rows = {"a": ledger([(0, 0, 1, D), (0, 0, 1, R)]), "b": ledger([(0, 0, 1, D), (0, 0, 1, R)])}
    found = judge_share(positions(np.array([0]), np.array([0])), rows, limit=2)
    assert (found.archived_at_limit, found.lost, found.abandoned) == (0, 1, 1)
    assert found.anomalies == ShareAnomalies(double_delivery=1)
    # without counts each delivery is one acquisition: two deliveries reach a limit of 2
    silent = {"a": ledger([(0, 0, 0, D), (0, 0, 0, R)]), "b": ledger([(0, 0, 0, D), (0, 0, 0, R)])}
    assert judge_share(positions(np.array([0]), np.array([0])), silent, limit=2).archived_at_limit == 1


def test_a_run_directory_judged_group_by_group(tmp_path: Path) -> None:
    history = History(
        [
            [Step(0, "release"), Step(1, "accept")],
            [Step(1, "held"), Step(0, "held"), Step(1, "release")],
            [Step(0, "accept", reached=False), Step(1, "accept")],
            [],
            [Step(1, "reject")],
        ],
        says_count=[True, False],
        limit=3,
    )
    built = build(history)
    write_run(built, tmp_path, extra_log=[(2, 9, int(Status.FOREIGN))])
    ledgers = tmp_path / "ledgers"
    with (ledgers / f"consumer-m0{DELIVERIES}").open("ab") as f:
        f.write(b"\x01\x02\x03\x04\x05")  # a torn last row: dropped
    # a member delivered a record of no producer of the run: neither judged nor a phantom
    other = {"member": "x", "group": "other", "strategy": "share", "start_ns": 0}
    write_meta(ledgers / "consumer-x.json", other)
    ledger([(2, 9, 1, D), (2, 9, 1, A), (0, 0, 1, D), (0, 0, 1, A)]).tofile(ledgers / f"consumer-x{DELIVERIES}")
    write_meta(ledgers / "consumer-c.json", {"member": "c", "group": "classic", "strategy": "after_process"})
    # Kafka's share group tool put GROUP's start offsets past every record (all done), and did not
    # answer for "other": its records never accepted are unreached, not lost
    write_meta(tmp_path / "drain" / "kafka-offsets.json", {"share_start": {GROUP: {str(p): 10**6 for p in range(3)}}})
    found = judge_share_run(tmp_path, limit=3)
    assert [f.group for f in found] == ["other", GROUP]  # by name
    assert figures(found[1]) == built.truth and found[1].unreached == 0
    assert [built.truth[k] for k in ("archived_at_limit", "rejected", "accepted_twice", "never_delivered")] == [1] * 4
    assert found[1].anomalies == ShareAnomalies() and found[1].invalid_rows == 0
    assert (found[0].accepted, found[0].lost, found[0].unreached, found[0].records) == (1, 0, 4, 5)
    assert found[0].anomalies == ShareAnomalies()


def test_records_at_or_past_the_start_offset_are_unreached_not_lost() -> None:
    """The share-partition start offset is the broker's line: below it every record is done, so one
    nobody accepted, rejected or archived is lost; at or past it, still to come."""
    log = positions(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 1]))
    rows = ledger([(0, 0, 1, D), (0, 0, 1, A), (1, 0, 1, D), (1, 0, 1, R)])
    found = judge_share(log, {"m": rows}, limit=5, start={0: 2, 1: 0})
    assert (found.accepted, found.lost, found.unreached) == (1, 1, 3)
    assert found.examples["lost"] == [(0, 1)] and found.examples["never_delivered"] == [(0, 1)]
    assert found.examples["unreached"] == [(0, 2), (1, 0), (1, 1)]
    everything_below = judge_share(log, {"m": rows}, limit=5)
    assert (everything_below.lost, everything_below.unreached) == (4, 0)


def test_a_run_without_share_members_has_no_share_findings(tmp_path: Path) -> None:
    write_meta(tmp_path / "ledgers" / "consumer-c.json", {"member": "c", "group": "g", "strategy": "after_process"})
    assert judge_share_run(tmp_path) == []
