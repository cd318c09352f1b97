"""The share group verdict reviewed against run directories built by hand: each test is a history a
KIP-932 broker and the harness's share member can make, and the verdict must neither claim a loss
that did not happen nor miss one that did, count what was processed once, say where its loss is,
and kill a member only at a moment that makes the broker deliver again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml

from chaos import rundir
from chaos.cluster.kafka_tools import share_start_offsets
from chaos.errors import InfrastructureError
from chaos.experiments.witness import kafka_answers
from chaos.faults import moments
from chaos.faults.client import ClientKill
from chaos.faults.moments import holding
from chaos.oracle.reconcile import reconcile
from chaos.oracle.share_figures import share_sentence
from chaos.oracle.synthetic import write_drain_meta
from chaos.oracle.synthetic_txn import SyntheticTxn, write_transactions
from chaos.oracle.verdict import Verdict
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, read_meta, write_meta
from chaos.workloads.share_ledger import SHARE_DELIVERY, Ack

D, A, R, J = Ack.DELIVERED, Ack.ACCEPT, Ack.RELEASE, Ack.REJECT
TAG = producer_tag("p0")
GROUP = "sg"
Row = tuple[int, int, int, int]  # partition, offset, count, ack


def all_accepted(offsets: range, partition: int = 0) -> list[Row]:
    """A member given each record once, accepting it."""
    return [row for o in offsets for row in ((partition, o, 1, D), (partition, o, 1, A))]


def share_member(
    ledgers: Path, name: str, rows: Sequence[Row], seq_at: dict[tuple[int, int], int], **meta: object
) -> None:
    """A share member's meta, ``.deliveries`` and ``.processed`` (its accepted rows), as the Java member
    writes them; ``seq_at``: the seq of the record at each position (-1: none)."""
    ledgers.mkdir(parents=True, exist_ok=True)
    config = {"share.delivery.count.limit": "5", "share.isolation.level": "read_uncommitted"}
    write_meta(
        ledgers / f"consumer-{name}.json",
        {"member": name, "group": GROUP, "topic": "t", "strategy": "share", "start_ns": 0, "group_config": config}
        | meta,
    )
    valid = int(Status.VALID)
    out = [(p, o, TAG, seq_at.get((p, o), -1), valid, c, a, t) for t, (p, o, c, a) in enumerate(rows)]
    np.array(out, dtype=SHARE_DELIVERY).tofile(ledgers / f"consumer-{name}.deliveries")
    done = [(p, o, TAG, seq_at.get((p, o), -1), valid, 0) for p, o, _, a in rows if a == A]
    np.array(done, dtype=PROCESSED).tofile(ledgers / f"consumer-{name}.processed")


def share_run(
    run_dir: Path, log: list[tuple[int, int, int]], members: dict[str, list[Row]], start: dict[int, int] | None
) -> None:
    """A whole run: producer p0 sent seqs 0..max and each was acknowledged where ``log`` (partition,
    offset, seq) holds it; the drain read ``log``; share ``members``; Kafka's share group tool
    reported ``start`` (None: it did not answer)."""
    ledgers = run_dir / rundir.LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / rundir.RUN, {"run_id": "review", "experiment": "share-review"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "sync", "start_ns": 0})
    sent = max(s for _, _, s in log) + 1
    events = [(Kind.INTENT, 0, sent, -1, -1, 0, 0), (Kind.RETURNED, 0, sent, -1, -1, 0, 0)]
    np.array(events, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    first = {s: (p, o) for p, o, s in reversed(log)}  # the first copy's position is the acknowledged one
    acks = [(Kind.ACK, s, s + 1, p, o, 0, 0) for s, (p, o) in sorted(first.items())]
    np.array(acks, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.acks")
    seq_at = {(p, o): s for p, o, s in log}
    for name, rows in members.items():
        share_member(ledgers, name, rows, seq_at)
    (run_dir / rundir.DRAIN).mkdir(exist_ok=True)
    rows_out = [(p, o, TAG, s, int(Status.VALID)) for p, o, s in log]
    np.array(rows_out, dtype=LOG_RECORD).tofile(run_dir / rundir.DRAIN / rundir.DRAIN_LOG)
    end = [max(o for p, o, _ in log if p == q) + 1 for q in range(max(p for p, _, _ in log) + 1)]
    write_drain_meta(run_dir, end, {}, len(log))
    answers: dict[str, object] = {"beginning": dict.fromkeys(map(str, range(len(end))), 0), "end": dict(enumerate(end))}
    if start is not None:
        answers["share_start"] = {GROUP: {str(p): o for p, o in start.items()}}
    write_meta(run_dir / rundir.DRAIN / rundir.KAFKA_OFFSETS, answers)


def four_records(run_dir: Path, members: dict[str, list[Row]], start: dict[int, int] | None = None) -> Verdict:
    """Four records at partition 0, offsets 0-3 (seq = offset), judged; the start offset past them all."""
    share_run(run_dir, [(0, o, o) for o in range(4)], members, {0: 4} if start is None else start)
    return reconcile(run_dir)


# -- processed: distinct sent records, whoever processed them -------------------------------------


def test_a_record_processed_by_a_classic_group_and_accepted_by_a_share_group_is_processed_once(tmp_path: Path) -> None:
    share_run(tmp_path, [(0, o, o) for o in range(4)], {"s0": all_accepted(range(4))}, {0: 4})
    ledgers = tmp_path / rundir.LEDGERS
    write_meta(ledgers / "consumer-c0.json", {"member": "c0", "group": "classic", "strategy": "after_process"})
    np.array([(0, o, TAG, o, 0, 0) for o in range(4)], dtype=PROCESSED).tofile(ledgers / "consumer-c0.processed")
    v = reconcile(tmp_path)
    assert v.counts.sent == 4 and v.share[0].accepted == 4
    assert v.counts.processed == 4  # distinct sent records some consumer processed, not 4 + 4


def test_a_record_the_log_holds_twice_is_processed_once_when_both_copies_are_accepted(tmp_path: Path) -> None:
    # seq 0 was written twice (a retry without idempotence): the share group is given both positions
    share_run(tmp_path, [(0, 0, 0), (0, 1, 1), (0, 2, 0)], {"s0": all_accepted(range(3))}, {0: 3})
    v = reconcile(tmp_path)
    assert v.share[0].accepted == 3  # positions, as the share figures count them
    assert (v.counts.sent, v.counts.processed) == (2, 2)


# -- the delivery count limit in force ---------------------------------------------------------------


def test_before_groups_had_their_own_limit_the_brokers_limit_is_the_one_in_force(tmp_path: Path) -> None:
    # Kafka 4.2 describes no share.delivery.count.limit for a group: the brokers' one (3 here, as
    # S2's file sets it) archived the poison record after its third delivery, released each time
    share_run(tmp_path, [(0, 0, 0), (0, 1, 1)], {}, {0: 2})
    poison = [(0, 0, c, a) for c in (1, 2, 3) for a in (D, R)]
    config = {"share.auto.offset.reset": "earliest", "share.isolation.level": "read_uncommitted"}
    share_member(
        tmp_path / rundir.LEDGERS, "s0", poison + all_accepted(range(1, 2)), {(0, 0): 0, (0, 1): 1}, group_config=config
    )
    experiment = {
        "name": "s2",
        "cluster": {"kafka_version": "4.2.0", "broker_config": {"group.share.delivery.count.limit": 3}},
    }
    (tmp_path / rundir.EXPERIMENT).write_text(yaml.safe_dump(experiment))
    v = reconcile(tmp_path)
    (share,) = v.share
    assert (share.limit, share.archived_at_limit, share.lost, v.loss.consumer) == (3, 1, 0, 0)
    assert share.anomalies.past_limit == 0


# -- records never meant to be read -----------------------------------------------------------------


def test_a_read_committed_share_group_is_owed_no_record_of_an_aborted_transaction(tmp_path: Path) -> None:
    # A committed, an aborted and a committed transaction, then one whose commit the producer never
    # saw end and that the read_committed view does not hold (it was aborted). The broker archives
    # what read_committed does not read, and the start offset passes it: not loss.
    txns = [
        SyntheticTxn(3, "committed"),
        SyntheticTxn(3, "aborted"),
        SyntheticTxn(3, "committed"),
        SyntheticTxn(2, "unknown", visible=0),
    ]
    write_transactions(txns, tmp_path, partitions=1)
    view = np.fromfile(tmp_path / rundir.DRAIN / rundir.DRAIN_COMMITTED, dtype=LOG_RECORD)
    seq_at = {(int(r["partition"]), int(r["offset"])): int(r["seq"]) for r in view}
    rows = [row for p, o in seq_at for row in ((p, o, 1, D), (p, o, 1, A))]
    config = {"share.delivery.count.limit": "5", "share.isolation.level": "read_committed"}
    share_member(tmp_path / rundir.LEDGERS, "s0", rows, seq_at, group_config=config)
    drain = read_meta(tmp_path / rundir.DRAIN / rundir.DRAIN_META)
    end = drain["end_offsets"]
    write_meta(
        tmp_path / rundir.DRAIN / rundir.KAFKA_OFFSETS,
        {"beginning": drain["beginning_offsets"], "end": end, "share_start": {GROUP: end}},
    )
    v = reconcile(tmp_path)
    assert v.conclusive and v.loss.consumer == 0, (v.loss, v.share)
    (share,) = v.share
    assert (share.records, share.accepted, share.lost) == (6, 6, 0)


# -- a damaged ledger -------------------------------------------------------------------------------


def test_a_share_ledger_row_no_member_writes_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    rows = all_accepted(range(4))
    rows[-1] = (0, 3, 1, 9)  # the acceptance of (0, 3), damaged: no such ack
    v = four_records(tmp_path, {"s0": rows})
    assert v.share[0].invalid_rows == 1
    assert not v.conclusive and v.loss.consumer is None  # not a conclusive loss of (0, 3)
    assert any("damaged ledger" in r for r in v.trust.reasons)


# -- where the loss is ------------------------------------------------------------------------------


def test_a_share_group_s_loss_has_consumer_examples(tmp_path: Path) -> None:
    v = four_records(tmp_path, {"s0": all_accepted(range(3))})  # (0, 3) never delivered, below the start
    assert v.loss.consumer == 1 and v.share[0].never_delivered == 1
    assert v.examples["consumer"] == [{"producer": "p0", "seq": 3, "partition": 0, "offset": 3, "group": GROUP}]


def test_records_whose_start_offset_kafka_did_not_give_are_not_said_to_be_past_it(tmp_path: Path) -> None:
    v = four_records(tmp_path, {"s0": all_accepted(range(3))}, start={})
    assert v.loss.consumer == 0 and v.share[0].unreached == 1
    sentence = share_sentence(v.share[0])
    assert "1 unreached" in sentence and "at or past the start offset" not in sentence


def test_a_share_group_the_tool_gave_no_start_for_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    """Without its start offsets (the tool failed, or found nowhere to run: a team's cluster with no
    Docker here) a never-delivered record is neither lost nor unreached: the figure is unknown, and a
    passing 'no share loss' would be a missed loss."""
    share_run(tmp_path, [(0, o, o) for o in range(4)], {"s0": all_accepted(range(3))}, None)
    v = reconcile(tmp_path)
    assert not v.conclusive and v.loss.consumer is None  # no figure rather than a false 0
    assert any(f"no start offsets for {GROUP}" in r for r in v.trust.reasons), v.trust.reasons


# -- Kafka's share group tool as the witness --------------------------------------------------------


def test_the_share_group_tool_is_asked_even_when_the_offsets_tool_failed(tmp_path: Path) -> None:
    share_run(tmp_path, [(0, o, o) for o in range(4)], {"s0": all_accepted(range(3))}, start=None)
    notes: list[str] = []

    def offsets_tool() -> dict[str, dict[int, int]]:
        raise InfrastructureError("GetOffsetShell: no answer")

    kafka_answers(offsets_tool, tmp_path, notes.append, lambda group: {0: 4})
    found = read_meta(tmp_path / rundir.DRAIN / rundir.KAFKA_OFFSETS)
    assert found["share_start"] == {GROUP: {"0": 4}} and "error" in found
    assert reconcile(tmp_path).loss.consumer == 1  # (0, 3): below the start, never delivered


DESCRIBED_VERBOSE = """
GROUP           TOPIC                                                   PARTITION  LEADER-EPOCH  START-OFFSET  LAG
kc-s1-ab12      kc-s1-share-member-killed-holding-records-20261127-ab12 0          3             1047          0
kc-s1-ab12      kc-s1-share-member-killed-holding-records-20261127-ab12 1          -             -             -
"""


class Broker:
    """A running broker whose container answers one command."""

    host = "broker-1"
    is_running = True

    def __init__(self, text: str) -> None:
        self.text = text

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        return 0, self.text


def test_the_tool_s_output_with_a_leader_epoch_column_and_a_long_topic_is_read_by_its_header() -> None:
    topic = "kc-s1-share-member-killed-holding-records-20261127-ab12"
    assert share_start_offsets([Broker(DESCRIBED_VERBOSE)], topic, "kc-s1-ab12") == {0: 1047}  # type: ignore[list-item]


# -- odd input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "abc", "-1", None, 3.5, True])
def test_a_limit_that_is_no_decimal_number_is_the_default_not_a_crash(tmp_path: Path, limit: object) -> None:
    share_run(tmp_path, [(0, o, o) for o in range(2)], {}, {0: 2})
    rows = [(0, 0, 1, D), (0, 0, 1, R), (0, 0, 2, D), (0, 0, 2, R), (0, 1, 1, D), (0, 1, 1, A)]
    share_member(
        tmp_path / rundir.LEDGERS,
        "s0",
        rows,
        {(0, 0): 0, (0, 1): 1},
        group_config={"share.delivery.count.limit": limit},
    )
    (share,) = reconcile(tmp_path).share
    assert share.limit == 5 and share.lost == 1  # released twice, below the default limit: abandoned


def test_a_start_offset_whose_partition_is_no_decimal_number_is_left_out_not_a_crash(tmp_path: Path) -> None:
    share_run(tmp_path, [(0, o, o) for o in range(2)], {"s0": all_accepted(range(1))}, {0: 2})
    path = tmp_path / rundir.DRAIN / rundir.KAFKA_OFFSETS
    answers = read_meta(path)
    answers["share_start"] = {GROUP: {"0": 2, "²": 5}}
    write_meta(path, answers)
    assert reconcile(tmp_path).loss.consumer == 1


# -- client_kill when: holding ----------------------------------------------------------------------


def deliveries(path: Path, rows: Sequence[tuple[int, int]]) -> None:
    """Append ``(count, ack)`` rows, one record each."""
    out = np.zeros(len(rows), SHARE_DELIVERY)
    out["offset"] = range(len(rows))
    out["count"], out["ack"] = [c for c, _ in rows], [a for _, a in rows]
    with path.open("ab") as f:
        out.tofile(f)


def test_deliveries_held_at_the_delivery_limit_are_no_moment_the_broker_delivers_again(tmp_path: Path) -> None:
    path = tmp_path / "consumer-c0.deliveries"
    look = holding(tmp_path, "consumer-c0", limit=3)
    deliveries(path, [(3, D)])  # a poison record on its last delivery: a kill now archives it
    assert look() == 0
    deliveries(path, [(3, R), (3, D), (1, D)])  # one of them below the limit: certain to come again
    assert look() == 1


def test_what_a_killed_process_of_the_member_held_is_not_held_by_the_process_that_runs_now(tmp_path: Path) -> None:
    # the member was killed holding two deliveries, and restarted: its new process holds nothing
    path = tmp_path / "consumer-c0.deliveries"
    deliveries(path, [(1, D), (1, D)])
    look = holding(tmp_path, "consumer-c0", limit=5)
    assert look() == 0
    deliveries(path, [(2, D)])  # the new process's first poll
    assert look() == 1


def test_the_kill_freezes_until_the_running_process_holds_something(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moments, "LOOK_EVERY", 0.0)
    path = tmp_path / "consumer-c0.deliveries"
    deliveries(path, [(1, D)])  # left by a process killed before
    look = holding(tmp_path, "consumer-c0", limit=5)
    polls: Iterator[list[tuple[int, int]]] = iter([[(2, D)]])

    def resume() -> None:
        deliveries(path, next(polls, []))

    assert moments.freeze_when("holding", look, lambda: None, resume, timeout=5) == 1


def test_the_kill_looks_with_the_limit_in_force_the_brokers_where_the_group_has_none(tmp_path: Path) -> None:
    ledgers = tmp_path / rundir.LEDGERS
    share_member(ledgers, "c0", [], {}, group_config={"share.isolation.level": "read_uncommitted"})  # Kafka 4.2
    experiment = {"cluster": {"broker_config": {"group.share.delivery.count.limit": 3}}}
    (tmp_path / rundir.EXPERIMENT).write_text(yaml.safe_dump(experiment))
    look = ClientKill._look(None, "holding", "consumer-c0", ledgers)  # type: ignore[arg-type]
    deliveries(ledgers / "consumer-c0.deliveries", [(3, D)])
    assert look() == 0
