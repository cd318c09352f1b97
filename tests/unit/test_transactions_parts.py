"""Transactions without Docker: specs, experiment files, plans, selectors and the ledger kinds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.experiments.plan import plan_experiment
from chaos.faults.targets import check_selector, expand_target
from chaos.oracle.expectations import METRICS, parse_expectation
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, ProducerLedger, read_records
from chaos.workloads.spec import ConsumerSpec, ProducerSpec


def producer(**fields: Any) -> ProducerSpec:
    return ProducerSpec(id="p0", topic="t", bootstrap_servers="", run_id="r1", run_dir="/tmp/r1", **fields)


def member(**fields: Any) -> ConsumerSpec:
    fields.setdefault("group", "g")
    return ConsumerSpec(id="c0", topic="t", bootstrap_servers="", run_id="r1", run_dir="/tmp/r1", **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"transaction_size": 0}, "transaction size must be at least 1"),
        ({"abort_ratio": 1.5}, "abort ratio must be between 0 and 1"),
    ],
)
def test_bad_transaction_settings_are_one_sentence(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        producer(mode="transactional", **fields)


def test_a_transactional_id_is_the_settings_own_or_named_after_the_run() -> None:
    assert producer().transactional_id == "kc-r1-p0"
    assert producer(settings={"transactional.id": "mine"}).transactional_id == "mine"
    assert member(output_topic="o", strategy="transactional").transactional_id == "kc-r1-c0"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strategy": "transactional"}, "give an output topic"),
        ({"output_topic": "t"}, "must differ from the input topic"),
        ({"output_topic": "o", "strategy": "per_partition"}, "not per_partition"),
    ],
)
def test_bad_transformer_specs_are_one_sentence(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        member(**fields)


def test_the_transformer_files_plan_an_output_topic_and_the_coordinator_target() -> None:
    exp = load_experiment(Path("experiments/t1-exactly-once-transformer-broker-and-client-kills.yaml"))
    plan = plan_experiment(exp, run_id="20261128-000000-ab12", run_dir=Path("/tmp/x"))
    (member,) = plan.consumers
    assert member.output_topic == "t1-output" and member.strategy == "transactional"
    assert member.output_settings == {"transaction.timeout.ms": "10000"}
    targets = [f.params.get("target") for f in plan.faults]
    assert "coordinator:transaction:kc-20261128-000000-ab12-c0" in targets
    t2 = load_experiment(Path("experiments/t2-read-uncommitted-consumer-processes-aborted-transactions.yaml"))
    producer = plan_experiment(t2, run_id="r", run_dir=Path("/tmp/x")).producers[0]
    assert (producer.mode, producer.transaction_size, producer.abort_ratio) == ("transactional", 200, 0.25)


def test_coordinator_selectors() -> None:
    assert check_selector("coordinator:group:g-1") and check_selector("coordinator:transaction:kc-r-p0")
    for bad in ("coordinator:share:x", "coordinator:group:", "coordinator"):
        with pytest.raises(UsageError, match="not a selector"):
            check_selector(bad)
    assert expand_target("group_coordinator", "t", "g") == "coordinator:group:g"
    assert expand_target("transaction_coordinator", "t", "g", None) == "transaction_coordinator"


def test_transactional_expectations_parse() -> None:
    assert parse_expectation("transactions_aborted_processed", ">0").name == "transactions_aborted_processed > 0"
    for name in ("aborted_read", "lost_committed_write", "torn_transaction", "duplicate_outputs", "unprocessed"):
        assert name in METRICS


def test_a_transaction_s_endings_reach_the_events_ledger(tmp_path: Path) -> None:
    ledger = ProducerLedger(tmp_path, "p0", {"mode": "transactional"})
    ledger.intent(0, 10)
    ledger.transaction(Kind.COMMITTING, 0, 10)
    ledger.transaction(Kind.COMMITTED, 0, 10)
    ledger.transaction(Kind.ABORTED, 10, 20)
    ledger.close()
    rows = np.concatenate(list(read_records(tmp_path / "ledgers" / "producer-p0.events", PRODUCER_EVENT)))
    assert [(int(r["kind"]), int(r["seq"]), int(r["seq_end"])) for r in rows] == [
        (Kind.INTENT, 0, 10),
        (Kind.COMMITTING, 0, 10),
        (Kind.COMMITTED, 0, 10),
        (Kind.ABORTED, 10, 20),
    ]


def test_a_bad_abort_ratio_in_a_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nproducer:\n  mode: transactional\n  abort_ratio: 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "run", str(bad)], check=False, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "bad.yaml:4: producer.abort_ratio" in proc.stderr and "Traceback" not in proc.stderr


class DumpingNode:
    """A broker whose ``exec`` answers what the segment-dump script prints."""

    host = "broker-1"

    def __init__(self, out: str, code: int = 0) -> None:
        self.out, self.code = out, code

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        assert "isControl" in cmd[-1]  # the script keeps each batch's control flag
        return self.code, self.out


def test_control_offsets_are_the_batches_kafka_marks_as_control() -> None:
    from chaos.cluster.kafka_tools import control_offsets, segment_offsets

    out = (
        "baseOffset: 0 lastOffset: 99 count: 100\nisControl: false\n"
        "baseOffset: 100 lastOffset: 100 count: 1\nisControl: true\n"
        "baseOffset: 101 lastOffset: 101 count: 1\nisControl: true\n"
        "baseOffset: 102 lastOffset: 110 count: 9\nisControl: false\n"
    )
    node: Any = DumpingNode(out)
    assert control_offsets(node, "t", 0) == {100, 101}
    assert segment_offsets(node, "t", 0) == list(range(111))
    assert control_offsets(DumpingNode("NO-REPLICA\n"), "t", 0) is None  # type: ignore[arg-type]
    with pytest.raises(Exception, match="DumpLogSegments failed"):
        control_offsets(DumpingNode("boom", code=1), "t", 0)  # type: ignore[arg-type]
