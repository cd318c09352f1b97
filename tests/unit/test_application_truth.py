"""The application's verdict against hand-built runs whose truth is known: the harness's own writers
and real drains over an in-memory Kafka (tests/helpers/app_kit.py), then the oracle. Each case is a
false or missed figure a review proved against an earlier oracle; each must stay fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.oracle.reconcile import reconcile
from chaos.workloads.application import Correlation
from chaos.workloads.shape import HEADER, InputShape, tag_header
from tests.helpers.app_kit import RUN_ID, T0_MS, AppRun
from tests.helpers.handmade import write_member

BY_ID = InputShape(value='{"order": "${id}"}', key="${id}")


def test_inputs_skipped_below_the_committed_offset_are_exactly_the_loss(tmp_path: Path) -> None:
    r = AppRun(tmp_path / "run", BY_ID)
    for s in range(6):
        r.send(s)
        if s not in (2, 3, 5):
            r.output(s)
    r.commit(0, 5)
    v = r.finish()
    assert v.conclusive and v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 2}
    assert [e["seq"] for e in v.examples["consumer"]] == [2, 3]
    app = v.application
    assert app is not None and (app.without_output_in_log, app.inputs_with_output, app.uncorrelated) == (3, 3, 0)
    assert v.counts.unprocessed == 1  # p0-5, above the committed offset


def test_latency_pairs_each_output_with_its_own_append_time_across_partitions(tmp_path: Path) -> None:
    r = AppRun(tmp_path / "run", BY_ID, partitions=2, fetch=1)  # fetches interleave: the drain's order is not the log's
    for s in range(8):
        r.at(s * 1000)
        r.send(s, partition=s % 2)
    for s in range(8):
        r.output(s, ts_ms=s * 1000 + (10 if s % 2 == 0 else 4000))
    r.commit(0, 4)
    r.commit(1, 4)
    v = r.finish()
    assert v.application is not None and v.application.latency_ms is not None
    assert v.application.latency_ms.model_dump() == {"p50": 2005.0, "p99": 4000.0, "max": 4000.0, "records": 8}


def test_records_written_under_the_application_after_it_passed_are_overwritten_not_lost(tmp_path: Path) -> None:
    # acks=1 failover: 0..9 read and committed, the log cut back to 5, 10..14 acknowledged at 5..9
    r = AppRun(tmp_path / "run", BY_ID)
    for s in range(10):
        r.at(s * 100)
        r.send(s)
    r.at(1000)
    for s in range(10):
        r.output(s)
    r.commit(0, 10)
    r.truncate_input(0, 5)
    r.at(2000)
    for s in range(10, 15):
        r.send(s)
    r.finish()
    # a built-in member with the same history judges the same
    write_member(r.dir, "c0", "g", [(o, o, 1000) for o in range(10)], 10, start_ns=T0_MS * 1_000_000)
    v = reconcile(r.dir)
    assert v.conclusive and v.loss.model_dump() == {"producer": 0, "broker": 5, "consumer": 0}
    assert v.counts.overwritten_unread == 10


def test_outputs_that_name_no_input_make_the_verdict_unsure_and_are_counted(tmp_path: Path) -> None:
    # re-keyed outputs: every input has one, none can be told whose
    r = AppRun(tmp_path / "a", InputShape(value='{"order": "${id}"}', key="${id}"))
    for s in range(10):
        r.send(s)
        r.output(s, key=f"cust-{s % 3}".encode())
    r.commit(0, 10)
    v = r.finish()
    assert not v.conclusive and v.loss.consumer is None
    assert v.application is not None and v.application.uncorrelated == 10
    assert any("10 outputs name no input of this run" in reason for reason in v.trust.reasons)
    # outputs naming a record never sent, or this run's record in another run's header
    r = AppRun(tmp_path / "b", BY_ID, correlate=Correlation("header", HEADER))
    for s in range(10):
        r.send(s)
        if s != 5:
            r.output(s)
    ghost = [(HEADER, tag_header(RUN_ID, "p0", 999, b"p0-999", b"{}"))]
    r.output(None, key=b"p0-999", value=b"{}", headers=ghost)
    r.output(None, key=b"p0-999", value=b"{}", headers=ghost)
    r.output(None, key=b"p0-5", value=b"{}", headers=[(HEADER, tag_header("other-run", "p0", 5, b"p0-5", b"{}"))])
    r.commit(0, 10)
    v = r.finish()
    app = v.application
    assert app is not None and (app.uncorrelated, app.duplicate_outputs, app.inputs_with_output) == (3, 0, 9)
    assert not v.conclusive and v.details.provisional_loss is not None and v.details.provisional_loss.consumer == 1


def test_a_fault_never_healed_lasts_to_the_end_of_its_latency_windows(tmp_path: Path) -> None:
    r = AppRun(tmp_path / "run", BY_ID)
    for s in range(20):
        r.at(s * 1000)
        r.send(s)
        r.output(s, ts_ms=s * 1000 + (3000 if s >= 5 else 100))
    r.commit(0, 20)
    r.fault("client_pause-0", "client_pause", 5000, None)
    v = r.finish()
    assert v.application is not None
    (fault,) = v.application.latency_by_fault
    assert fault.before is not None and (fault.before.records, fault.before.p50) == (5, 100.0)
    assert fault.during is not None and (fault.during.records, fault.during.p50) == (15, 3000.0)
    assert fault.after is None


def test_bytes_an_application_writes_never_crash_the_drain(tmp_path: Path) -> None:
    cases: list[tuple[Correlation, dict[str, Any]]] = [
        (Correlation("header", HEADER), {"headers": [(HEADER, "kc2;r;p0;²;".encode())]}),
        (Correlation("key"), {"key": b"p0-99999999999999999999"}),
        (Correlation("json", "order"), {"value": b"[" * 5000}),
    ]
    for i, (correlate, written) in enumerate(cases):
        r = AppRun(tmp_path / str(i), BY_ID, correlate=correlate)
        r.send(0)
        r.output(0)
        r.output(None, **written)
        r.commit(0, 1)
        v = r.finish()
        assert v.application is not None and v.application.uncorrelated == 1, written
        assert len(v.application.uncorrelated_examples) == 1


def test_outputs_removed_by_retention_make_the_verdict_unsure(tmp_path: Path) -> None:
    r = AppRun(tmp_path / "run", BY_ID)
    for s in range(10):
        r.send(s)
        r.output(s)
    r.commit(0, 10)
    out = r.kafka.topics["t-out"]
    del out.parts[0][:3]
    out.start[0] = 3
    v = r.finish()
    assert not v.conclusive
    assert "the output topic's log start moved (retention removed outputs): {'0': 3}" in v.trust.reasons


def test_the_output_topic_takes_the_inputs_durability_never_its_retention(tmp_path: Path) -> None:
    from chaos.experiments.app_run import Applications
    from chaos.experiments.plan import TopicPlan
    from chaos.workloads.application import AppSpec

    asked: list[tuple[object, ...]] = []
    spec = AppSpec(("/bin/true",), None, {}, "t", "t-out", "g", "r", str(tmp_path))
    config = {"cleanup.policy": "compact", "retention.ms": "60000", "min.insync.replicas": "2"}
    Applications(spec, TopicPlan("t", 3, 3, config), tmp_path, lambda *a: asked.append(a), lambda: None)  # type: ignore[arg-type,return-value]
    assert asked == [("t-out", 3, 3, {"min.insync.replicas": "2", "message.timestamp.type": "LogAppendTime"})]


def test_outputs_out_of_their_inputs_order_per_key_are_counted_where_asked(tmp_path: Path) -> None:
    shape = InputShape(value='{"order": "${id}"}', key="customer-${slot}", slots=2)
    for ordered in (True, False):
        r = AppRun(tmp_path / str(ordered), shape, correlate=Correlation("json", "order"), ordered=ordered)
        for s in range(8):
            r.send(s)
        for s in (0, 1, 4, 3, 2, 5, 6, 7):  # customer-0: 0, 4, 2, 6 (2 after 4); customer-1: 1, 3, 5, 7
            r.output(s)
        r.commit(0, 8)
        v = r.finish()
        app = v.application
        assert app is not None and v.conclusive and v.loss.consumer == 0
        if ordered:  # one of 2 and 4 is out of customer-0's order, whichever the longest run keeps
            assert app.reordered_outputs == 1 and app.reordered_examples in (["p0-4"], ["p0-2"])
        else:
            assert app.reordered_outputs is None
