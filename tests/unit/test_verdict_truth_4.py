"""A fourth review, of the rules the earlier reviews' fixes brought (the damaged claim, expired,
overwritten_unread, duplicates at rewritten positions, a transformer's copies, availability's
waiting): each test builds a small run directory by hand, with the project's own dtypes and
writers, and failed before its fix for the reason its docstring gives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chaos.oracle import reconcile
from chaos.oracle.availability import availability
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, read_meta, write_meta
from tests.helpers.handmade import TAG, write_log, write_member


def _run(
    run_dir: Path,
    mode: str,
    events: Sequence[tuple[int, int, int, int, int, int]],
    acks: Sequence[tuple[int, int, int, int, int, int]],
    log: Sequence[tuple[int, int, int]],
    begin: int = 0,
) -> Path:
    """Producer p0 in ``mode``; ``events``/``acks`` rows are (kind, seq, seq_end, partition, offset,
    t_ms); ``log`` is (offset, seq, status) of partition 0 as a complete drain read it, contiguous
    from ``begin``."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / "run.json", {"run_id": "r1", "experiment": "review2"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": mode, "start_ns": 0})
    np.array([(k, s, e, p, o, 0, t) for k, s, e, p, o, t in events], dtype=PRODUCER_EVENT).tofile(
        ledgers / "producer-p0.events"
    )
    np.array([(k, s, e, p, o, 0, t) for k, s, e, p, o, t in acks], dtype=PRODUCER_EVENT).tofile(
        ledgers / "producer-p0.acks"
    )
    write_log(run_dir, log, begin)
    return run_dir


def _acked(seqs: Sequence[int], t_ms: int = 0) -> list[tuple[int, int, int, int, int, int]]:
    return [(Kind.ACK, s, s + 1, 0, s, t_ms) for s in seqs]


def _equation(v) -> None:  # type: ignore[no-untyped-def]
    c, loss = v.counts.model_dump(), v.figures.model_dump()
    parts = ("in_log", "damaged", "failed", "unknown", "aborted", "expired")
    assert c["sent"] == sum(c[k] for k in parts) + loss["producer"] + loss["broker"], (c, loss)


# R1 -- the damaged claim goes to the highest key, not to the record last written there ----------


def test_the_damaged_value_is_the_copy_of_the_record_acknowledged_there_last_not_of_the_highest_seq(
    tmp_path: Path,
) -> None:
    """Outbox producer p0 (it resends a record after an error it saw). seq 0..5 intended. seq 3's
    first attempt timed out (ERROR_SEEN at t=1000 ms) though the broker had written it at offset 3;
    seq 4 and 5 were acked at 4 and 5 (t=500 ms). An unclean election cut the log back to 5 and the
    outbox's resend of seq 3 was acked at offset 5 (t=2000 ms). Offset 5 now fails its checksum.

    Two acks name offset 5; the later one (seq 3, t=2000) is the write that replaced seq 5's, so
    the damaged value at 5 is seq 3's copy (seq 3 also has its valid first copy at 3: in_log), and
    seq 5's write was overwritten. docs/verdict.md: "the last sent is damaged and the others are
    broker loss, overwritten". True: broker loss 1 (seq 5, overwritten), damaged 0.

    The oracle (acked.py: "the last sent (the highest key)") claims the damaged value for seq 5,
    the highest key: broker loss 0, damaged 1 - a broker loss hidden as a damaged record."""
    events = [(Kind.INTENT, 0, 6, -1, -1, 0), (Kind.RETURNED, 0, 6, -1, -1, 0)]
    acks = _acked([0, 1, 2, 4, 5], 500)
    acks.append((Kind.ERROR_SEEN, 3, 4, -1, -1, 1000))
    acks.append((Kind.ACK, 3, 4, 0, 5, 2000))
    log = [(o, o, Status.VALID) for o in range(5)] + [(5, -1, Status.CORRUPTED)]
    v = reconcile(_run(tmp_path, "outbox", events, acks, log))
    assert v.conclusive, v.trust
    _equation(v)
    assert v.anomalies["corrupted"] == 1
    assert v.figures.broker == 1 and v.causes["broker"]["overwritten"] == 1, (v.loss, v.counts)
    assert v.counts.damaged == 0


# R2 -- expired: "processed by some group" hides another group's loss --------------------------


def test_a_record_one_group_skipped_is_lost_to_it_though_another_group_read_it_before_retention(
    tmp_path: Path,
) -> None:
    """p0's seq 0..99 acked at offsets 0..99. Group a processed all 100 and committed 100. Group b
    committed 100 too, but never processed seq 30 (it committed past it: an auto-commit before
    processing, a poll skip). Then retention deleted offsets below 50.

    Group b skipped a record it had committed past: by docs/verdict.md a consumer loss ("in the log
    below its group's committed offset, and never processed by that group") - and had retention come
    first it would be retention's loss for b ("Still loss (the application never gets it)"). Before
    today's rule it was at least counted (broker loss, below_log_start). True: total loss 1.

    The oracle: seq 30 is `expired` because group a processed it; total loss 0."""
    log = [(o, o, Status.VALID) for o in range(50, 100)]
    events = [(Kind.INTENT, 0, 100, -1, -1, 0), (Kind.RETURNED, 0, 100, -1, -1, 0)]
    run = _run(tmp_path, "async", events, _acked(range(100)), log, begin=50)
    write_member(run, "a-0", "a", [(o, o) for o in range(100)], 100)
    write_member(run, "b-0", "b", [(o, o) for o in range(100) if o != 30], 100)
    v = reconcile(run)
    assert v.conclusive, v.trust
    _equation(v)
    assert v.figures.consumer + v.figures.broker == 1, (v.loss, v.counts.expired)


# R3 -- duplicates_processed goes negative (and hides real duplicates) after a rewrite -----------


def test_duplicates_processed_is_never_negative_after_a_rewrite_with_a_duplicated_record(tmp_path: Path) -> None:
    """F6's history, read on: the group processed offsets 0..9 (seq 0..9); an unclean election cut
    the log back to 5 and rewrote it: seq 10 twice (5 and 6, a retry without idempotence), 11..13
    at 7..9. The group's committed offset had lagged at 6, so its restarted member (a new epoch)
    read 6..9 again: seq 10, 11, 12, 13. No record was processed twice at one position; a
    position read again holding another record is not a duplicate (docs/verdict.md). True: 0.

    The oracle: -1. consumers._rewritten counts the current holder of position 5 (seq 10) as
    "read there" because the group processed seq 10 elsewhere (at 6), and subtracts it."""
    acks = _acked(range(10)) + [(Kind.ACK, 10, 11, 0, 6, 0)] + [(Kind.ACK, s, s + 1, 0, s - 4, 0) for s in (11, 12, 13)]
    log = [(o, o, Status.VALID) for o in range(5)] + [(5, 10, Status.VALID), (6, 10, Status.VALID)]
    log += [(7, 11, Status.VALID), (8, 12, Status.VALID), (9, 13, Status.VALID)]
    events = [(Kind.INTENT, 0, 14, -1, -1, 0), (Kind.RETURNED, 0, 14, -1, -1, 0)]
    run = _run(tmp_path, "async", events, acks, log)
    rows = [(o, o) for o in range(10)] + [(6, 10), (7, 11), (8, 12), (9, 13)]
    write_member(run, "g-0", "g", rows, 10, epochs=[10])
    v = reconcile(run)
    assert v.conclusive, v.trust
    assert v.anomalies["duplicates_processed"] == 0, v.anomalies


def test_a_real_duplicate_processing_is_not_cancelled_by_a_rewritten_position(tmp_path: Path) -> None:
    """As above, and the restarted member also processed offset 9 (seq 13) twice: one real
    duplicate processing. The oracle: 0 (the -1 cancels it)."""
    acks = _acked(range(10)) + [(Kind.ACK, 10, 11, 0, 6, 0)] + [(Kind.ACK, s, s + 1, 0, s - 4, 0) for s in (11, 12, 13)]
    log = [(o, o, Status.VALID) for o in range(5)] + [(5, 10, Status.VALID), (6, 10, Status.VALID)]
    log += [(7, 11, Status.VALID), (8, 12, Status.VALID), (9, 13, Status.VALID)]
    events = [(Kind.INTENT, 0, 14, -1, -1, 0), (Kind.RETURNED, 0, 14, -1, -1, 0)]
    run = _run(tmp_path, "async", events, acks, log)
    rows = [(o, o) for o in range(10)] + [(6, 10), (7, 11), (8, 12), (9, 13), (9, 13)]
    write_member(run, "g-0", "g", rows, 10, epochs=[10, 14])
    v = reconcile(run)
    assert v.anomalies["duplicates_processed"] == 1, v.anomalies


# R4 -- duplicate_outputs counts the input's copies in the final log, not as the transformer read it


def test_two_outputs_of_an_input_the_transformer_read_twice_are_not_duplicates_after_retention(
    tmp_path: Path,
) -> None:
    """p0 wrote seq 0..9; seq 2 twice (offsets 2 and 3, a retry without idempotence): 11 copies at
    0..10. An exactly-once transformer (read_committed) read all 11 and committed one output per
    copy (seq 2 twice), its .processed rows name both copies, and it committed 11. Retention then
    deleted offsets below 3: the first copy of seq 2 is gone.

    docs/verdict.md: duplicate_outputs are outputs "beyond the copies of their input in the input
    log as the group read it" - the group read two copies. True: 0 (no exactly-once violation).

    The oracle counts the copies the drain found after retention (one): duplicate_outputs 1."""
    events = [(Kind.INTENT, 0, 10, -1, -1, 0), (Kind.RETURNED, 0, 10, -1, -1, 0)]
    acks = [(Kind.ACK, s, s + 1, 0, s if s <= 2 else s + 1, 0) for s in range(10)]
    copies = [(o, o if o <= 2 else o - 1) for o in range(11)]  # (offset, seq)
    log = [(o, s, Status.VALID) for o, s in copies if o >= 3]
    run = _run(tmp_path, "async", events, acks, log, begin=3)
    meta = {"member": "t-0", "group": "t", "strategy": "transactional", "client": "java", "start_ns": 0}
    write_meta(
        run / LEDGERS / "consumer-t-0.json", {**meta, "output_topic": "out", "isolation_level": "read_committed"}
    )
    np.array([(0, o, TAG, s, 0, 0) for o, s in copies], dtype=PROCESSED).tofile(
        run / LEDGERS / "consumer-t-0.processed"
    )
    out = [(0, i, TAG, s, 0) for i, (_, s) in enumerate(copies)]
    np.array(out, dtype=LOG_RECORD).tofile(run / DRAIN / "output.bin")
    write_meta(run / DRAIN / "output.json", {"topic": "out", "records": len(out), "complete": True})
    drain = read_meta(run / DRAIN / "drain.json")
    write_meta(run / DRAIN / "drain.json", {**drain, "committed": {"t": {"0": 11}}})
    v = reconcile(run)
    assert v.conclusive, v.trust
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.anomalies["duplicate_outputs"] == 0, v.examples["duplicate_outputs"]


# R5, R6 -- availability --------------------------------------------------------------------------

START_NS = 1_800_000_000 * 10**9
T0 = START_NS / 1e9


def _ledger(
    run: Path,
    pid: str,
    mode: str,
    events: Sequence[tuple[int, int, int, int, int]],
    acks: Sequence[tuple[int, int, int, int, int]],
) -> None:
    """Producer ``pid``'s ledgers from (kind, seq, seq_end, offset, t_ms) rows."""
    ledgers = run / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(ledgers / f"producer-{pid}.json", {"producer": pid, "mode": mode, "start_ns": START_NS})
    for rows, suffix in ((events, ".events"), (acks, ".acks")):
        arr = np.array([(k, s, e, 0, o, 0, t) for k, s, e, o, t in rows], dtype=PRODUCER_EVENT)
        arr.tofile(ledgers / f"producer-{pid}{suffix}")


def _timeline(run: Path, entries: list[dict[str, object]]) -> None:
    (run / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def test_an_outbox_producer_resending_through_an_outage_was_waiting_for_all_of_it(tmp_path: Path) -> None:
    """Outbox producer: one record every 100 ms, acked 5 ms later, 0 s to 10 s. A broker outage
    from 10 s to 40 s (fault a): the 10 records it had in flight failed at 20 s and again at 30 s
    (ERROR_SEEN each time), the outbox resent them each time, and they were acked at 40.005 s; the
    application had stopped writing to the outbox at 11 s. No ack from 9.905 s to 40.005 s while
    the outbox waited for one (docs/verdict.md: "it had sent records not yet acknowledged or
    failed" - a failed outbox record is sent again). True no_ack_s of fault a: 30.0.

    Then, 60 s to 70 s, the application wrote 100 more records, one per 100 ms; a second outage
    (fault b, 70 s to 90 s) held the last 10 (sent 69 s..70 s) until 90.005 s. True: 20.0.

    The oracle counts each of the 20 errors as a completion: its pending count reaches 0 at 20 s
    (no_ack_s 10.0), and stays 20 short for the rest of the run, so fault b's outage is hidden."""
    events, acks = [], []
    for s in range(100):  # 0..10 s
        events.append((Kind.INTENT, s, s + 1, -1, s * 100))
        if s < 90:
            acks.append((Kind.ACK, s, s + 1, s, s * 100 + 5))
    for s in range(90, 100):
        acks += [(Kind.ERROR_SEEN, s, s + 1, -1, 20_000), (Kind.ERROR_SEEN, s, s + 1, -1, 30_000)]
        acks.append((Kind.ACK, s, s + 1, s, 40_005))
    for i, s in enumerate(range(100, 200)):  # 60..70 s
        t = 60_000 + i * 100
        events.append((Kind.INTENT, s, s + 1, -1, t))
        acks.append((Kind.ACK, s, s + 1, s, t + 5 if s < 190 else 90_005))
    _ledger(tmp_path, "p0", "outbox", events, acks)
    _timeline(
        tmp_path,
        [
            {"t": T0 + 10.0, "event": "inject", "fault": "a", "kind": "broker_kill", "targets": ["broker-1"]},
            {"t": T0 + 40.0, "event": "heal", "fault": "a", "kind": "broker_kill", "targets": ["broker-1"]},
            {"t": T0 + 70.0, "event": "inject", "fault": "b", "kind": "broker_kill", "targets": ["broker-1"]},
            {"t": T0 + 90.0, "event": "heal", "fault": "b", "kind": "broker_kill", "targets": ["broker-1"]},
        ],
    )
    a, b = availability(tmp_path)
    assert (a["no_ack_s"], b["no_ack_s"]) == (30.0, 20.0)


def test_a_producer_that_finished_is_not_waiting_for_records_it_never_sent(tmp_path: Path) -> None:
    """Transactional producer, transactions of 10 records, one record every 10 ms, acked 5 ms
    later. At 2 s, send() raised for seq 205 (a metadata timeout): the rest of that INTENT range,
    seq 206..209, was never sent (transactional.py's _send_range returns), the transaction aborted,
    and the producer went on to 20 s, when it finished cleanly. A fault (a follower paused) from
    19 s to 25 s; timeline events until 40 s. Acks came every 10 ms until the producer finished.
    docs/verdict.md: "A producer that had finished ... is no outage: 0". True: 0.0.

    The oracle: seq 206..209 were intended and never completed, so the producer "waits" to the
    run's end: no_ack_s 20.0 (20 s to 40 s)."""
    events, acks = [], []
    for start in range(0, 2000, 10):
        events.append((Kind.INTENT, start, start + 10, -1, start * 10))
        for s in range(start, start + 10):
            if s == 205:
                acks.append((Kind.ERROR_SEEN, s, s + 1, -1, s * 10))
            elif not 205 < s < 210:
                acks.append((Kind.ACK, s, s + 1, s, s * 10 + 5))
    _ledger(tmp_path, "p0", "transactional", events, acks)
    _timeline(
        tmp_path,
        [
            {"t": T0 + 19.0, "event": "inject", "fault": "a", "kind": "broker_pause", "targets": ["broker-2"]},
            {"t": T0 + 25.0, "event": "heal", "fault": "a", "kind": "broker_pause", "targets": ["broker-2"]},
            {"t": T0 + 40.0, "event": "isr", "under_replicated": 0},
        ],
    )
    (a,) = availability(tmp_path)
    assert a["no_ack_s"] == 0.0, a


# R7 -- overwritten_unread hides a record the group skipped after the rewrite --------------------


def test_a_rewritten_record_the_group_skipped_after_the_rewrite_is_consumer_loss(tmp_path: Path) -> None:
    """acks=1 failover: seq 0..9 acked at 0..9 (t=0); the group processed 0..9 (seq 0..9) in its
    first epoch, its committed offset lagging at 5. The log was cut back to 5 and rewritten: seq
    10..14 acked at 5..9 (t=1000 ms). The group's restarted member (epoch 2) resumed at 5 and
    processed seq 10 (5), seq 11 (6), seq 13 (8), seq 14 (9), skipping offset 7, and committed 10.

    When the member read seq 13 at offset 8, offset 7 held seq 12 (acked there before seq 13 was
    acked at 8, and never moved: the final log still holds both): the group passed seq 12 after
    the rewrite and never processed it. docs/verdict.md's overwritten_unread is for records "the
    group will never read ... but it skipped nothing"; this one it skipped. True: consumer loss 1.

    The oracle: consumer loss 0, overwritten_unread 1 (only poll_skips 1 hints at it), because
    the group once processed seq 7 at offset 7, before the rewrite."""
    acks = _acked(range(10)) + [(Kind.ACK, s, s + 1, 0, s - 5, 1000) for s in range(10, 15)]
    log = [(o, o, Status.VALID) for o in range(5)] + [(o, o + 5, Status.VALID) for o in range(5, 10)]
    events = [(Kind.INTENT, 0, 15, -1, -1, 0), (Kind.RETURNED, 0, 15, -1, -1, 0)]
    run = _run(tmp_path, "async", events, acks, log)
    rows = [(o, o, 0) for o in range(10)] + [(5, 10, 2000), (6, 11, 2000), (8, 13, 2000), (9, 14, 2000)]
    write_member(run, "g-0", "g", rows, 10, epochs=[10])
    v = reconcile(run)
    assert v.conclusive, v.trust
    assert v.anomalies["poll_skips"] == 1
    assert v.figures.consumer == 1, (v.loss, v.counts.overwritten_unread)


def test_a_group_already_past_the_rewrite_only_reads_on_and_skips_nothing(tmp_path: Path) -> None:
    """The same rewrite, but the group had passed it: it processed 0..9 before (t=0), and after the
    rewrite (t=1000) only records written later, at 10..14 (t=5000). The records now at 5..9 were
    written under it: overwritten_unread 5, consumer loss 0 (as in an unclean election while the
    group keeps consuming)."""
    acks = _acked(range(10)) + [(Kind.ACK, s, s + 1, 0, s - 5, 1000) for s in range(10, 15)]
    acks += [(Kind.ACK, s, s + 1, 0, s - 5, 4000) for s in range(15, 20)]
    log = [(o, o, Status.VALID) for o in range(5)] + [(o, o + 5, Status.VALID) for o in range(5, 15)]
    events = [(Kind.INTENT, 0, 20, -1, -1, 0), (Kind.RETURNED, 0, 20, -1, -1, 0)]
    run = _run(tmp_path, "async", events, acks, log)
    rows = [(o, o, 0) for o in range(10)] + [(o, o + 5, 5000) for o in range(10, 15)]
    write_member(run, "g-0", "g", rows, 15)
    v = reconcile(run)
    assert v.conclusive, v.trust
    assert v.figures.consumer == 0 and v.counts.overwritten_unread == 5


# R8 -- availability of a sync producer with acks=0 ---------------------------------------------


def test_a_sync_producer_with_acks_0_has_latencies_on_the_send_basis(tmp_path: Path) -> None:
    """A sync producer with acks=0: one record every 10 ms, completed 2 ms later, 0..30 s; the
    sync mode writes its completions to .events (ledger.ack_in_thread), with offset -1. A fault
    from 10 s to 14 s; nothing in flight waited long. docs/verdict.md: basis "send" when the
    completions carry no offset, and no_ack_s and latency_ms then count those completions.

    The oracle reads acks=0 completions from .acks only: basis "ack" and every latency null."""
    events = []
    for s in range(3000):
        events += [(Kind.INTENT, s, s + 1, -1, s * 10), (Kind.ACK, s, s + 1, -1, s * 10 + 2)]
        events.append((Kind.RETURNED, s, s + 1, -1, s * 10 + 2))
    _ledger(tmp_path, "p0", "sync", events, [])
    _timeline(
        tmp_path,
        [
            {"t": T0 + 10.0, "event": "inject", "fault": "a", "kind": "broker_pause", "targets": ["broker-2"]},
            {"t": T0 + 14.0, "event": "heal", "fault": "a", "kind": "broker_pause", "targets": ["broker-2"]},
        ],
    )
    (a,) = availability(tmp_path)
    assert a["basis"] == "send", a
    assert a["latency_ms"]["before"] is not None and a["latency_ms"]["before"]["p50"] == 2.0, a
