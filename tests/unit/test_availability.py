"""Availability figures from a synthetic run: acknowledgements stop during a fault and resume,
latency grows while it lasts, the ISR comes back some seconds after the heal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chaos.oracle.availability import availability
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, write_meta

START_NS = 1_800_000_000 * 10**9
T0 = START_NS / 1e9


def write_run(run: Path) -> None:
    """One producer sending a record every 10 ms for 30 s: acked 5 ms later, except those sent
    from 10 s to 14 s, all acked at 16 s (no ack from 10.005 s to 16 s)."""
    ledgers = run / "ledgers"
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "async", "start_ns": START_NS})
    seqs = np.arange(3000)
    sent_ms = seqs * 10
    ack_ms = np.where((sent_ms >= 10_000) & (sent_ms < 14_000), 16_000, sent_ms + 5)
    keep = ~((sent_ms >= 14_000) & (sent_ms < 16_000))  # nothing was sent while blocked
    events = np.zeros(int(keep.sum()), PRODUCER_EVENT)
    events["kind"], events["seq"], events["seq_end"], events["t_ms"] = (
        Kind.INTENT,
        seqs[keep],
        seqs[keep] + 1,
        sent_ms[keep],
    )
    acks = np.zeros(int(keep.sum()), PRODUCER_EVENT)
    acks["kind"], acks["seq"], acks["seq_end"] = Kind.ACK, seqs[keep], seqs[keep] + 1
    acks["offset"], acks["t_ms"] = seqs[keep], ack_ms[keep]
    events.tofile(ledgers / "producer-p0.events")
    acks.tofile(ledgers / "producer-p0.acks")
    timeline = [
        {"t": T0 + 10.0, "event": "inject", "fault": "kill-0", "kind": "broker_kill", "targets": ["broker-1"]},
        {"t": T0 + 10.5, "event": "isr", "under_replicated": 3},
        {"t": T0 + 14.0, "event": "heal", "fault": "kill-0", "kind": "broker_kill", "targets": ["broker-1"]},
        {"t": T0 + 17.5, "event": "isr", "under_replicated": 0},
        {"t": T0 + 20.0, "event": "inject", "fault": "pause-1", "kind": "broker_pause", "targets": ["broker-2"]},
    ]
    (run / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in timeline) + '{"t": 1, "ev')


def test_each_fault_has_its_unavailability_latency_and_time_to_full_isr(tmp_path: Path) -> None:
    write_run(tmp_path)
    kill, pause = availability(tmp_path)
    assert (kill["fault"], kill["kind"], kill["targets"]) == ("kill-0", "broker_kill", ["broker-1"])
    assert kill["no_ack_s"] == 6.0  # from the injection at 10 s to the first ack at 16 s
    lat = kill["latency_ms"]
    assert lat["before"] == {"p50": 5.0, "p99": 5.0, "records": 1000}  # 10 s before the injection
    assert lat["during"]["p50"] == 4005.0 and lat["during"]["records"] == 400  # sent 10-14 s, acked at 16 s
    assert lat["after"]["p50"] == 5.0 and lat["after"]["records"] == 800  # 14-24 s, but nothing was sent 14-16 s
    assert kill["heal_to_full_isr_s"] == 3.5
    assert pause["healed"] is None and pause["no_ack_s"] == 0.0  # acks went on through it, to the run's end
    assert pause["heal_to_full_isr_s"] is None


def test_a_run_without_faults_has_no_availability_figures(tmp_path: Path) -> None:
    (tmp_path / "ledgers").mkdir()
    assert availability(tmp_path) == []


def test_with_acks_0_the_figures_count_completed_sends_and_say_so(tmp_path: Path) -> None:
    write_run(tmp_path)
    acks = np.fromfile(tmp_path / "ledgers" / "producer-p0.acks", PRODUCER_EVENT)
    acks["offset"] = -1  # acks=0: the client completes records without an offset
    acks.tofile(tmp_path / "ledgers" / "producer-p0.acks")
    kill, _ = availability(tmp_path)
    assert kill["basis"] == "send" and kill["no_ack_s"] == 6.0
    assert kill["latency_ms"]["during"]["records"] == 400


def test_acknowledged_records_are_the_basis_otherwise(tmp_path: Path) -> None:
    write_run(tmp_path)
    assert {f["basis"] for f in availability(tmp_path)} == {"ack"}


def _producer(run: Path, sent_ms: np.ndarray, ack_ms: np.ndarray) -> None:
    """Producer p0 sent record i at ``sent_ms[i]`` (its send returned at once), acknowledged at
    ``ack_ms[i]``."""
    ledgers = run / "ledgers"
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "async", "start_ns": START_NS})
    seqs = np.arange(len(sent_ms))
    files: dict[str, list[np.ndarray]] = {".events": [], ".acks": []}
    for suffix, kind, t, offset in (
        (".events", Kind.INTENT, sent_ms, -1),
        (".events", Kind.RETURNED, sent_ms, -1),
        (".acks", Kind.ACK, ack_ms, seqs),
    ):
        rows = np.zeros(len(seqs), PRODUCER_EVENT)
        rows["kind"], rows["seq"], rows["seq_end"], rows["offset"], rows["t_ms"] = kind, seqs, seqs + 1, offset, t
        files[suffix].append(rows)
    for suffix, parts in files.items():
        np.concatenate(parts).tofile(ledgers / f"producer-p0{suffix}")


def _fault(run: Path, injected: float, healed: float, end: float) -> None:
    timeline = [
        {"t": T0 + injected, "event": "inject", "fault": "kill-0", "kind": "broker_kill", "targets": ["broker-1"]},
        {"t": T0 + healed, "event": "heal", "fault": "kill-0", "kind": "broker_kill", "targets": ["broker-1"]},
        {"t": T0 + end, "event": "isr", "under_replicated": 0},
    ]
    (run / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in timeline))


def test_a_producer_that_had_finished_before_the_fault_saw_no_outage(tmp_path: Path) -> None:
    sent = np.arange(0, 10_000, 10)
    _producer(tmp_path, sent, sent + 5)  # done at 10 s
    _fault(tmp_path, injected=15.0, healed=25.0, end=30.0)
    (kill,) = availability(tmp_path)
    assert kill["no_ack_s"] == 0.0


def test_records_still_unacknowledged_keep_the_outage_going_to_the_run_s_end(tmp_path: Path) -> None:
    sent = np.arange(0, 16_000, 10)
    _producer(tmp_path, sent, sent + 5)
    acks = np.fromfile(tmp_path / "ledgers" / "producer-p0.acks", PRODUCER_EVENT)
    acks[sent < 15_000].tofile(tmp_path / "ledgers" / "producer-p0.acks")  # those sent from 15 s: never
    _fault(tmp_path, injected=15.0, healed=25.0, end=30.0)
    (kill,) = availability(tmp_path)
    assert kill["no_ack_s"] == 15.0  # waiting from the injection to the run's end


def test_a_record_sent_before_the_fault_and_acknowledged_in_it_counts_during_it(tmp_path: Path) -> None:
    sent = np.arange(0, 30_000, 10)
    ack = np.where((sent >= 9_500) & (sent < 14_000), 16_000, sent + 5)  # in flight at the injection
    _producer(tmp_path, sent, ack)
    _fault(tmp_path, injected=10.0, healed=14.0, end=30.0)
    (kill,) = availability(tmp_path)
    lat = kill["latency_ms"]
    assert lat["before"] == {"p50": 5.0, "p99": 5.0, "records": 950}  # sent 0-9.5 s, acked before 10 s
    assert lat["during"]["records"] == 450 and lat["during"]["p99"] > 6000
    assert kill["no_ack_s"] == 4.0  # from 10 s to the first ack of a record sent after the heal


def test_a_sync_producer_blocked_in_send_through_the_fault_was_waiting(tmp_path: Path) -> None:
    """A sync producer: each record intended, acknowledged, then returned; the one intended at 10 s
    is acknowledged (and returns) only at 16 s, and nothing is sent meanwhile."""
    ledgers = tmp_path / "ledgers"
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "sync", "start_ns": START_NS})
    sent = np.concatenate((np.arange(0, 10_010, 10), np.arange(16_010, 30_000, 10)))
    done = np.where(sent == 10_000, 16_000, sent + 5)
    rows = []
    for i, (t_sent, t_done) in enumerate(zip(sent.tolist(), done.tolist(), strict=True)):
        rows += [(Kind.INTENT, i, i + 1, -1, -1, 0, t_sent), (Kind.ACK, i, i + 1, 0, i, 0, t_done)]
        rows += [(Kind.RETURNED, i, i + 1, -1, -1, 0, t_done)]
    np.array(rows, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    _fault(tmp_path, injected=10.0, healed=14.0, end=30.0)
    (kill,) = availability(tmp_path)
    assert kill["no_ack_s"] == 6.0
