"""Envelope, settings mapping, ledgers and specs, without a cluster (the workloads' loops against fake
clients: ``test_workload_parts_loops.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.errors import UsageError
from chaos.workloads.envelope import Status, decode, encode, payload_for, producer_tag
from chaos.workloads.gate import BufferGate
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, ProducerLedger, read_records
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.settings import HARNESS_OWNED, consumer_settings, producer_settings
from chaos.workloads.spec import ConsumerSpec, ProducerSpec, load_spec, save_spec
from chaos.workloads.totals import next_seq


@given(
    st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=20), st.integers(0, 2**40), st.binary(max_size=300)
)
def test_envelope_round_trips(producer: str, seq: int, payload: bytes) -> None:
    d = decode(encode("run-1", producer, seq, payload), "run-1")
    assert (d.status, d.producer, d.seq) == (Status.VALID, producer, seq)


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_flipped_byte_is_caught(payload: bytes, data: st.DataObject) -> None:
    value = bytearray(encode("run-1", "p0", 42, payload))
    i = data.draw(st.integers(0, len(value) - 1))
    value[i] ^= data.draw(st.integers(1, 255))
    # a flip in the magic or the run id makes the value another run's (or no envelope at all); in the
    # run id's separator too, when the payload has a separator to spare for the six fields, else the
    # value does not parse; anywhere else (producer, sequence number, checksum, payload) the checksum fails
    run_id_end = len(b"kc2;run-1")
    foreign = i < run_id_end or (i == run_id_end and b";" in payload)
    want = Status.FOREIGN if foreign else Status.CORRUPTED
    assert decode(bytes(value), "run-1").status is want


@given(st.binary(max_size=100))
def test_decode_never_raises(value: bytes) -> None:
    assert decode(value, "run-1").status in set(Status)


def test_other_runs_and_strangers_are_foreign() -> None:
    assert decode(encode("run-2", "p0", 1, b""), "run-1").status is Status.FOREIGN
    assert decode(b"hello", "run-1").status is Status.FOREIGN
    assert decode(None, "run-1").status is Status.FOREIGN
    assert decode(b"kc2;run-1;p0;x;00000000;", "run-1").status is Status.CORRUPTED


@given(st.binary(max_size=40), st.binary(max_size=40) | st.none())
def test_the_checksum_covers_the_key(key: bytes, other: bytes | None) -> None:
    value = encode("run-1", "p0", 42, b"payload", key)
    assert decode(value, "run-1", key).status is Status.VALID
    if other != key:  # a key changed in flight (or dropped) makes the record corrupted
        assert decode(value, "run-1", other).status is Status.CORRUPTED


def test_payload_has_the_asked_size() -> None:
    assert len(payload_for(123, 1000)) == 1000
    assert payload_for(5, 0) == b""
    assert producer_tag("p0") == producer_tag("p0") != producer_tag("p1")


def test_java_names_map_onto_kafka_python() -> None:
    s = producer_settings(
        {
            "acks": "-1",
            "enable.idempotence": "false",
            "retries": "5",
            "linger.ms": "10",
            "batch.size": "16384",
            "compression.type": "none",
            "delivery.timeout.ms": "30000",
            "max.in.flight.requests.per.connection": "5",
            "request.timeout.ms": "3000",
            "buffer.memory": "33554432",
            "bootstrap.servers": "prod:9092",
            "key.serializer": "org.apache.kafka.common.serialization.StringSerializer",
            "security.protocol": "SSL",
        }
    )
    assert s.kwargs == {
        "acks": "all",
        "enable_idempotence": False,
        "retries": 5,
        "linger_ms": 10,
        "batch_size": 16384,
        "compression_type": None,
        "delivery_timeout_ms": 30000,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 3000,
    }
    assert s.emulated == {"buffer.memory": 33554432}
    assert s.substituted == ["bootstrap.servers", "key.serializer", "security.protocol"]
    c = consumer_settings(
        {
            "enable.auto.commit": "true",
            "auto.commit.interval.ms": "1000",
            "group.id": "x",
            "isolation.level": "read_committed",
        }
    )
    assert c.kwargs == {
        "enable_auto_commit": True,
        "auto_commit_interval_ms": 1000,
        "isolation_level": "read_committed",
    }
    assert c.substituted == ["group.id"]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"ack": "all"}, "unknown producer setting ack (did you mean acks?)"),
        ({"lingerms": "5"}, "did you mean linger.ms"),
        ({"acks": "2"}, "acks='2' is invalid"),
        ({"enable.idempotence": "maybe"}, "is not true or false"),
        ({"compression.type": "brotli"}, "is not none, gzip"),
        ({"partitioner.class": "x.Y"}, "not supported here"),
        ({"interceptor.classes": "x.Y"}, "no interceptors"),
    ],
)
def test_bad_producer_settings_are_errors(props: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        producer_settings(props)


def test_bad_consumer_settings_are_errors() -> None:
    with pytest.raises(UsageError, match=r"did you mean enable\.auto\.commit"):
        consumer_settings({"enable.autocommit": "true"})
    with pytest.raises(UsageError, match="is not one of earliest, latest"):
        consumer_settings({"auto.offset.reset": "none"})


def test_ledger_ranges_and_restart_resume(tmp_path: Path) -> None:
    ledger = ProducerLedger(tmp_path, "p0", {"mode": "async"})
    ledger.intent(0, 64)
    ledger.returned(0, 64)
    ledger.ack(3, 1, 17)
    ledger.intent(64, 70)
    ledger.close()
    with (tmp_path / "ledgers" / "producer-p0.events").open("ab") as f:
        f.write(b"\x01\x02")  # torn by a kill
    records = np.concatenate(list(read_records(tmp_path / "ledgers" / "producer-p0.events", PRODUCER_EVENT)))
    assert list(records["kind"]) == [Kind.INTENT, Kind.RETURNED, Kind.INTENT]
    assert next_seq(tmp_path, "p0") == 70
    assert next_seq(tmp_path, "nobody") == 0


def test_buffer_gate_blocks_then_times_out_like_java() -> None:
    from kafka.errors import KafkaTimeoutError

    gate = BufferGate(limit=100, max_block_ms=50)
    gate.acquire(80)
    with pytest.raises(KafkaTimeoutError):
        gate.acquire(80)
    gate.release(80)
    gate.acquire(80)
    unbounded = BufferGate(limit=None, max_block_ms=1)
    unbounded.acquire(10**9)


def test_specs_validate_and_round_trip(tmp_path: Path) -> None:
    spec = ProducerSpec(
        id="p0",
        topic="t",
        bootstrap_servers="b",
        run_id="r",
        run_dir=str(tmp_path),
        mode="outbox",
        count=10,
        settings={"acks": "all"},
        protocol=DriverProtocol(intent_batch=7, pace_ms=3, transactional_id="tx-{id}"),
    )
    save_spec(spec, tmp_path / "p.json")
    assert load_spec(tmp_path / "p.json") == spec
    # A driver in another language reads its tunables and the keys the harness owns from the file.
    written = json.loads((tmp_path / "p.json").read_text())["protocol"]
    assert written["intent_batch"] == 7 and written["ack_batch"] == 64
    assert written["harness_owned"] == sorted(HARNESS_OWNED) and written["harness_owned_prefixes"] == [
        "security.",
        "ssl.",
        "sasl.",
    ]
    assert spec.transactional_id == "tx-p0"
    with pytest.raises(UsageError, match="must contain"):
        DriverProtocol(transactional_id="fixed")
    with pytest.raises(UsageError, match="ack_batch must be a whole number of at least 1"):
        DriverProtocol(ack_batch=0)
    with pytest.raises(UsageError, match="not this harness's"):  # a spec of another version
        DriverProtocol.from_json({**written, "harness_owned": ["client.id"]})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mode": "yolo"}, "producer mode"),
        ({"keys": "random"}, "producer keys"),
        ({"rate": 0}, "rate must be positive"),
        ({"id": "a b"}, "producer id"),
    ]
    for bad, message in cases:
        with pytest.raises(UsageError, match=message):
            ProducerSpec(**{"id": "p0", "topic": "t", "bootstrap_servers": "b", "run_id": "r", "run_dir": ".", **bad})
    with pytest.raises(UsageError, match="commit strategy"):
        ConsumerSpec(
            id="c0",
            topic="t",
            bootstrap_servers="b",
            run_id="r",
            run_dir=".",
            group="g",
            strategy="sometimes",  # type: ignore[arg-type]
        )
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(UsageError, match="not a workload spec"):
        load_spec(tmp_path / "junk.json")
