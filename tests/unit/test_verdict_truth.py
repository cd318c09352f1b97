"""Each way the verdict was shown to mis-state loss, on a small hand-built run directory: every test
here failed before the fix it names, and would fail again if the fix were undone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from kafka.errors import KafkaConnectionError

from chaos.errors import InfrastructureError
from chaos.oracle import reconcile
from chaos.oracle.synthetic import LOG_START, Fate, History, SyntheticProducer, write, write_drain_meta
from chaos.rundir import DRAIN, LEDGERS
from chaos.waiting import wait_until
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import (
    LOG_RECORD,
    PROCESSED,
    PRODUCER_EVENT,
    ConsumerLedger,
    Kind,
    ProducerLedger,
    read_records,
    write_meta,
)
from chaos.workloads.outbox import OutboxForwarding
from chaos.workloads.producer import ProducerWorkload
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.sending import Delivery
from chaos.workloads.spec import ProducerSpec
from tests.helpers.handmade import TAG, one_partition_run


def acked(n: int) -> list[tuple[int, int, int, int, int]]:
    return [(Kind.ACK, s, s + 1, 0, s) for s in range(n)]


# 1 -- a torn ledger tail before a restart ------------------------------------------------------


def test_a_restarted_consumer_appends_after_a_torn_batch_on_a_record_boundary(tmp_path: Path) -> None:
    write(History("r1", [SyntheticProducer("p0", "async", [Fate.OK] * 1000)], partitions=1), tmp_path)
    processed = tmp_path / LEDGERS / "consumer-g-0.processed"
    rows = np.fromfile(processed, dtype=PROCESSED)
    rows[:100].tofile(processed)
    with processed.open("ab") as f:  # killed 14.5 KB into writing the next batch: 500 rows and a torn one
        f.write(rows[100:].tobytes()[:14_513])
    ledger = ConsumerLedger(tmp_path, "g-0", {"group": "g"})  # the restarted member goes on from 600
    ledger.processed_many([(int(r["partition"]), int(r["offset"]), TAG, int(r["seq"]), 0) for r in rows[600:]])
    ledger.close()
    v = reconcile(tmp_path)
    assert v.conclusive
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.anomalies["duplicates_processed"] == 0 and v.counts.processed == 1000


def test_a_restarted_producer_appends_after_a_torn_ack_on_a_record_boundary(tmp_path: Path) -> None:
    write(History("r1", [SyntheticProducer("p0", "async", [Fate.OK] * 10)], partitions=1), tmp_path)
    acks = tmp_path / LEDGERS / "producer-p0.acks"
    with acks.open("ab") as f:
        f.write(b"\x03" * 20)  # a torn ack
    ledger = ProducerLedger(tmp_path, "p0", {"mode": "async"})
    ledger.ack(3, 0, LOG_START + 3)
    ledger.close()
    assert acks.stat().st_size % PRODUCER_EVENT.itemsize == 0
    rows = np.concatenate(list(read_records(acks, PRODUCER_EVENT)))
    assert set(rows["kind"].tolist()) == {Kind.ACK}
    v = reconcile(tmp_path)
    assert v.conclusive and v.counts.acked == 10 and v.figures.broker == 0


WRITER = """
import sys
from pathlib import Path
from chaos.workloads.ledger import ConsumerLedger
ledger = ConsumerLedger(Path(sys.argv[1]), "c0", {"group": "g"})
rows = [(0, i, 7, i, 0) for i in range(200_000)]
print("ready", flush=True)
while True:
    ledger.processed_many(rows)
"""


def _has_a_row(path: Path) -> bool:
    return path.exists() and path.stat().st_size >= PROCESSED.itemsize


def test_a_writer_killed_mid_write_leaves_a_ledger_the_next_writer_continues_cleanly(tmp_path: Path) -> None:
    for attempt in range(3):
        run_dir = tmp_path / str(attempt)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        # rows on disk before the kill (a loaded machine can take longer than any fixed sleep to write
        # the first), then a kill while it goes on writing
        written = run_dir / LEDGERS / "consumer-c0.processed"
        wait_until(partial(_has_a_row, written), 30, "the first rows")
        time.sleep(0.05 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ledger = ConsumerLedger(run_dir, "c0", {"group": "g"})
        ledger.processed_many([(5, 123, 9, 123, 0)])
        ledger.close()
        rows = np.concatenate(list(read_records(run_dir / LEDGERS / "consumer-c0.processed", PROCESSED)))
        # every row is one the writers wrote: aligned, whatever the kill tore; the killed writer's
        # whole rows are kept, not cut off with its torn tail
        assert rows[-1]["partition"] == 5 and rows[-1]["offset"] == 123
        assert set(rows["partition"][:-1].tolist()) == {0} and set(rows["tag"][:-1].tolist()) == {7}
        assert bool(np.all(rows["offset"][:-1] == rows["seq"][:-1]))


# 2, 3 -- a drain that skipped records, a stale drain.json -----------------------------------------


def test_a_drain_that_skipped_offsets_is_inconclusive(tmp_path: Path) -> None:
    log = [(o, o, Status.VALID) for o in range(100) if not 40 <= o < 60]
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 100, -1, -1)], acked(100), log))
    assert not v.conclusive and v.model_dump(mode="json")["loss"]["broker"] is None
    assert any("records were skipped" in r for r in v.trust.reasons)


def test_a_log_shorter_than_its_drain_json_is_inconclusive(tmp_path: Path) -> None:
    run_dir = one_partition_run(
        tmp_path, "async", [(Kind.INTENT, 0, 1000, -1, -1)], acked(1000), [(o, o, Status.VALID) for o in range(1000)]
    )
    log = np.fromfile(run_dir / DRAIN / "log.bin", dtype=LOG_RECORD)
    log[:300].tofile(run_dir / DRAIN / "log.bin")  # a later drain died after 300 records
    v = reconcile(run_dir)
    assert not v.conclusive and "stale or partial" in " ".join(v.trust.reasons)


# 4 -- records below the log start ---------------------------------------------------------------


def test_broker_loss_says_which_records_fell_below_the_log_start(tmp_path: Path) -> None:
    # 0..29 deleted (the log starts at 30), 90..99 truncated (the log ends at 90)
    log = [(o, o, Status.VALID) for o in range(30, 90)]
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 100, -1, -1)], acked(100), log, begin=30))
    assert v.conclusive and v.figures.broker == 40
    assert v.causes["broker"] == {
        "below_log_start": 30,
        "overwritten": 0,
        "beyond_log_end": 10,
        "missing": 0,
        "unconfirmed": 0,
    }
    assert v.examples["broker"][0]["cause"] == "below_log_start"


# 5 -- a corrupted record counted twice -----------------------------------------------------------


def test_a_corrupted_or_mangled_record_at_its_acked_offset_is_counted_once(tmp_path: Path) -> None:
    log = [(o, o, Status.VALID) for o in range(10)]
    log[4] = (4, -1, Status.CORRUPTED)  # checksum fails
    log[7] = (7, -1, Status.FOREIGN)  # magic or run id hit: not recognisable as this run's
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 10, -1, -1)], acked(10), log))
    assert v.figures.broker == 0
    assert v.anomalies["corrupted"] == 2 and v.anomalies["phantom"] == 0
    assert v.counts.damaged == 2 and v.counts.in_log == 8


# 6 -- the outbox after a seen error ---------------------------------------------------------------


def test_an_outbox_record_still_pending_after_a_seen_error_is_unknown(tmp_path: Path) -> None:
    acks = [*acked(9), (Kind.ERROR_SEEN, 9, 10, -1, -1)]
    log = [(o, o, Status.VALID) for o in range(9)]
    run_dir = one_partition_run(
        tmp_path, "outbox", [(Kind.INTENT, 0, 10, -1, -1), (Kind.RETURNED, 0, 10, -1, -1)], acks, log
    )
    v = reconcile(run_dir)
    assert v.counts.unknown == 1 and v.counts.failed == 0
    assert v.counts.sent == v.counts.in_log + v.counts.unknown


# 7 -- acks waiting in the process ----------------------------------------------------------------


def test_a_lone_ack_reaches_the_file_without_another_ack(tmp_path: Path) -> None:
    ledger = ProducerLedger(tmp_path, "p0", {"mode": "async"})
    ledger.ack(0, 0, 0)
    time.sleep(DriverProtocol().ack_timer_ms / 1000 * 4)
    rows = list(read_records(tmp_path / LEDGERS / "producer-p0.acks", PRODUCER_EVENT))
    assert rows and int(rows[0][0]["kind"]) == Kind.ACK  # not closed: a kill now keeps it
    ledger.close()


def test_the_outbox_writes_an_ack_before_it_forgets_the_row(tmp_path: Path) -> None:
    spec = ProducerSpec(
        id="p0", topic="t", bootstrap_servers="127.0.0.1:1", run_id="r1", run_dir=str(tmp_path), mode="outbox"
    )
    outbox = OutboxForwarding(ProducerWorkload(spec).sending)
    db = outbox._connect()
    db.execute("INSERT INTO outbox (seq) VALUES (0)")
    db.commit()
    outbox.acked(0, SimpleNamespace(partition=0, offset=0))
    outbox._settle(db)  # at once: well within the ack group's flush interval
    assert db.execute("SELECT done FROM outbox").fetchone() == (1,)
    assert len(list(read_records(tmp_path / LEDGERS / "producer-p0.acks", PRODUCER_EVENT))) == 1
    db.close()


# 8 -- acks=0 ---------------------------------------------------------------------------------------


def test_acks_0_confirmations_are_counted_apart_from_acknowledgements(tmp_path: Path) -> None:
    acks = [(Kind.ACK, s, s + 1, 0, -1) for s in range(10)]  # acks=0: success with offset -1
    log = [(o, o, Status.VALID) for o in range(6)]
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 10, -1, -1)], acks, log))
    assert v.counts.acked == 0 and v.counts.unconfirmed == 10
    assert v.figures.broker == 4 and v.causes["broker"]["unconfirmed"] == 4


def test_an_acks_0_producer_writes_no_offset_whatever_the_client_reports(tmp_path: Path) -> None:
    spec = ProducerSpec(
        id="p0", topic="t", bootstrap_servers="127.0.0.1:1", run_id="r1", run_dir=str(tmp_path), settings={"acks": "0"}
    )
    workload = ProducerWorkload(spec)
    reported = SimpleNamespace(partition=0, offset=7)  # kafka-python 3.0: the index in its batch
    Delivery(workload.sending, 0, 10, False).acked(reported)
    workload.ledger.close()
    rows = np.concatenate(list(read_records(tmp_path / LEDGERS / "producer-p0.acks", PRODUCER_EVENT)))
    assert rows["offset"].tolist() == [-1]


# 9 -- a fire-and-forget producer killed inside a range ------------------------------------------


def test_returned_sends_of_a_range_cut_short_by_a_kill_are_producer_loss(tmp_path: Path) -> None:
    ledger = ProducerLedger(tmp_path, "p0", {"mode": "fire_and_forget"})
    ledger.intent(0, 256)
    ledger.returned_mark.begin(0)
    ledger.returned_mark.cells[1] = 100  # send() returned for 0..99, then SIGKILL: no RETURNED event
    (tmp_path / DRAIN).mkdir()
    np.zeros(0, dtype=LOG_RECORD).tofile(tmp_path / DRAIN / "log.bin")
    write_drain_meta(tmp_path, [0], {}, 0)
    v = reconcile(tmp_path)
    assert v.figures.producer == 100 and v.counts.unknown == 156
    # a restarted producer keeps that knowledge in its events ledger and starts a fresh mark
    ProducerLedger(tmp_path, "p0", {"mode": "fire_and_forget"}).close()
    rows = np.concatenate(list(read_records(tmp_path / LEDGERS / "producer-p0.events", PRODUCER_EVENT)))
    assert (Kind.RETURNED, 0, 100) in {(int(r["kind"]), int(r["seq"]), int(r["seq_end"])) for r in rows}
    assert reconcile(tmp_path).figures.producer == 100


# 10 -- one record out of place ---------------------------------------------------------------------


def test_one_record_written_early_is_one_reordered_record(tmp_path: Path) -> None:
    order = [99, *range(99)]  # seq 99 first, then 0..98
    log = [(o, seq, Status.VALID) for o, seq in enumerate(order)]
    acks = [(Kind.ACK, seq, seq + 1, 0, o) for o, seq in enumerate(order)]
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 100, -1, -1)], acks, log))
    assert v.anomalies["reordered"] == 1
    assert [e["seq"] for e in v.examples["reordered"]] == [99]


# 2, 3, 11 -- how the drain reads (the envelope covers the key: see
#              test_workload_parts.test_the_checksum_covers_the_key)


def test_the_drain_never_jumps_reads_damaged_batches_and_forgets_a_stale_drain_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chaos.workloads.drain as drain_module

    asked: dict[str, object] = {}

    def consumer(**kwargs: object) -> None:
        asked.update(kwargs)
        raise KafkaConnectionError("nobody there")

    monkeypatch.setattr(drain_module, "KafkaConsumer", consumer)
    write_meta(tmp_path / DRAIN / "drain.json", {"complete": True, "records": 1000})  # a previous drain's
    with pytest.raises(InfrastructureError, match="could not reach the cluster"):
        drain_module.drain("127.0.0.1:1", "t", "r1", tmp_path)
    assert asked["auto_offset_reset"] == "none"  # an out-of-range offset raises, never jumps to the end
    assert asked["check_crcs"] is False  # a damaged batch is read; the envelope says which records
    assert not (tmp_path / DRAIN / "drain.json").exists()


def test_the_drain_notes_where_the_offsets_it_read_break() -> None:
    from chaos.workloads.coverage import Coverage

    seen = Coverage({0: 0, 1: 100})
    for offset in [*range(5), *range(7, 10)]:
        seen.add(0, offset)
    for offset in range(100, 150):
        seen.add(1, offset)
    assert seen.gaps({0: 10, 1: 200}) == {"0": [5, 7], "1": [150, 200]}
    assert Coverage({0: 0}).gaps({0: 0}) == {}


# inconsistent offsets ------------------------------------------------------------------------------


def test_an_acked_offset_that_holds_another_record_is_an_inconsistent_offset(tmp_path: Path) -> None:
    # 0..9 acked at 0..9; the log was truncated to 5 and rewritten: offsets 5..9 now hold 10..14
    acks = acked(10) + [(Kind.ACK, s, s + 1, 0, s - 5) for s in range(10, 15)]
    log = [(o, o, Status.VALID) for o in range(5)] + [(o, o + 5, Status.VALID) for o in range(5, 10)]
    v = reconcile(one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 15, -1, -1)], acks, log))
    assert v.figures.broker == 5 and v.causes["broker"]["overwritten"] == 5
    assert v.anomalies["inconsistent_offsets"] == 5
    first = v.examples["inconsistent_offsets"][0]
    assert (first["offset"], first["seq"], first["acked"]["seq"]) == (5, 10, 5)


def test_verdict_json_states_trust_and_causes(tmp_path: Path) -> None:
    write(History("r1", [SyntheticProducer("p0", "async", [Fate.OK, Fate.BELOW_START])]), tmp_path)
    data = json.loads(json.dumps(reconcile(tmp_path).model_dump(mode="json")))
    assert data["conclusive"] is True and data["trust"]["reasons"] == []
    assert data["causes"]["broker"]["below_log_start"] == 1


def test_a_drain_that_disagrees_with_kafkas_own_offsets_is_inconclusive(tmp_path: Path) -> None:
    run_dir = one_partition_run(
        tmp_path, "async", [(Kind.INTENT, 0, 10, -1, -1)], acked(10), [(o, o, Status.VALID) for o in range(10)]
    )
    write_meta(run_dir / DRAIN / "kafka-offsets.json", {"beginning": {"0": 0}, "end": {"0": 10}})
    v = reconcile(run_dir)
    assert v.conclusive and v.trust.independent_count is True
    write_meta(run_dir / DRAIN / "kafka-offsets.json", {"beginning": {"0": 0}, "end": {"0": 12}})
    v = reconcile(run_dir)
    assert not v.conclusive and v.trust.independent_count is False
    assert "Kafka's own offsets say 12" in v.trust.reasons[0]
    write_meta(run_dir / DRAIN / "kafka-offsets.json", {"error": "the tool did not answer"})
    assert reconcile(run_dir).trust.independent_count is None


def test_a_ledger_row_no_writer_produces_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    run_dir = one_partition_run(
        tmp_path, "async", [(Kind.INTENT, 0, 10, -1, -1)], acked(10), [(o, o, Status.VALID) for o in range(10)]
    )
    with (run_dir / LEDGERS / "producer-p0.acks").open("ab") as f:
        f.write(np.array([(9, 5, 6, 0, 5, 0, 0)], dtype=PRODUCER_EVENT).tobytes())  # kind 9 does not exist
    v = reconcile(run_dir)
    assert not v.conclusive and not v.trust.ledgers_intact


def test_the_second_witness_is_summarised_in_trust(tmp_path: Path) -> None:
    log = [(o, o, Status.VALID) for o in range(8)]
    run_dir = one_partition_run(tmp_path, "async", [(Kind.INTENT, 0, 10, -1, -1)], acked(10), log)
    checked = [
        {"producer": "p0", "seq": 8, "partition": 0, "on_disk_of": []},
        {"producer": "p0", "seq": 9, "partition": 0, "on_disk_of": ["broker-2"]},
    ]
    write_meta(run_dir / DRAIN / "witness.json", {"tool": "DumpLogSegments", "checked": checked})
    v = reconcile(run_dir)
    assert v.conclusive and v.figures.broker == 2
    assert v.trust.witness is not None and v.trust.witness.model_dump(exclude_none=True) == {
        "tool": "DumpLogSegments",
        "checked": 2,
        "gone_from_every_replica": 1,
        "on_a_disk_not_in_the_log": 1,
    }
    assert v.details.witness == checked
