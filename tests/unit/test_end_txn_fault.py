"""The delayed-EndTxn fault without a cluster: what it reads from ``ss``, ``iptables`` and the
producer's ledgers, and that healing lets the producer run again whatever happens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chaos.errors import UsageError
from chaos.faults import make_fault
from chaos.faults.base import FaultContext, FaultError, Timeline
from chaos.faults.end_txn import (
    END_TXN,
    EndTxnDelay,
    bytes_sent,
    client_connections,
    held_by_rule,
    held_commit,
    open_part,
)
from chaos.workloads.ledger import PRODUCER_EVENT, Kind

#: ``ss -Htni state connected`` in a broker's container: a client on the proxied listener, one on
#: the direct listener, a replica fetcher on the internal one.
SS = """ESTAB      0      0      172.18.0.3:9092 172.18.0.2:41234
\t cubic wscale:7,7 rto:204 rtt:0.1/0.05 bytes_sent:9120 bytes_acked:9121 bytes_received:4411 segs_out:40
ESTAB      0      0      172.18.0.3:9094 172.18.0.1:50122
\t cubic wscale:7,7 rto:204 bytes_sent:77 bytes_acked:78 bytes_received:120
CLOSE-WAIT 1      0      172.18.0.3:9091 172.18.0.4:37000
\t cubic wscale:7,7 rto:204 bytes_sent:5000 bytes_received:6000
"""

#: ``iptables -L kc-ab12 -v -x -n`` as iptables 1.8.9 prints the fault's rules.
LISTING = """Chain kc-ab12 (1 references)
    pkts      bytes target     prot opt in     out     source               destination
       6      360 DROP       6    --  *      *       172.18.0.2           0.0.0.0/0            tcp spt:41234 multiport dports 9092,9094 u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x0:0x1ff&&0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x4>>0x10=0x1a"
       0        0 DROP       6    --  *      *       172.18.0.1           0.0.0.0/0            tcp spt:50122 multiport dports 9092,9094 u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x0:0x1ff&&0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x4>>0x10=0x1a"
"""  # noqa: E501


def rows(*entries: tuple[Kind, int, int]) -> np.ndarray:
    out = np.zeros(len(entries), PRODUCER_EVENT)
    for i, (kind, seq, end) in enumerate(entries):
        out[i]["kind"], out[i]["seq"], out[i]["seq_end"] = kind, seq, end
    return out


def test_only_client_listeners_connections_are_held() -> None:
    assert client_connections(SS) == [("172.18.0.2", 41234), ("172.18.0.1", 50122)]
    assert bytes_sent(SS) == {41234: 9120, 50122: 77}


def test_the_counters_name_the_held_connection() -> None:
    assert held_by_rule(LISTING) == {41234: 6, 50122: 0}
    assert END_TXN == 26


def test_the_held_commit_is_retried_only_when_its_own_outcome_comes() -> None:
    assert held_commit(rows((Kind.COMMITTED, 0, 100), (Kind.COMMITTING, 100, 200))) == ""
    assert held_commit(rows((Kind.COMMITTING, 100, 200), (Kind.ABORTED, 100, 200))) == "retried"
    # a driver calling commit again on the same records is still the same transaction
    assert held_commit(rows((Kind.COMMITTING, 1, 2), (Kind.COMMITTING, 1, 2), (Kind.COMMITTED, 1, 2))) == "retried"
    assert held_commit(rows()) == ""


def test_a_client_that_started_again_is_not_a_retry() -> None:
    # what the drivers write when the commit fails, the abort fails and a new client goes on: the
    # held transaction never gets an outcome, a later one commits under a new epoch
    restarted = rows((Kind.COMMITTING, 1000, 2000), (Kind.INTENT, 2000, 2100), (Kind.COMMITTING, 2000, 3000))
    assert held_commit(restarted) == "restarted"
    assert held_commit(rows((Kind.COMMITTING, 1000, 2000), (Kind.COMMITTED, 2000, 3000))) == "restarted"


def test_a_transaction_part_written_is_open_acknowledged_and_unfinished() -> None:
    acks = rows((Kind.ACK, 150, 151))
    entries = [(Kind.COMMITTED, 0, 100), (Kind.INTENT, 100, 150), (Kind.INTENT, 150, 400)]
    written = rows(*entries)
    assert open_part(written, acks, 1000) == 300
    # committing: nothing is left to write into it
    assert open_part(rows(*entries, (Kind.COMMITTING, 100, 1100)), acks, 1000) == 0
    # none of its records acknowledged: none is surely in the log
    assert open_part(written, rows((Kind.ACK, 99, 100)), 1000) == 0
    # fewer than OPEN_RECORDS still to send
    assert open_part(written, acks, 350) == 0
    # an error is not an acknowledgement
    assert open_part(written, rows((Kind.ERROR_SEEN, 150, 151)), 1000) == 0


def test_it_needs_a_workload() -> None:
    with pytest.raises(UsageError, match="needs a workload"):
        make_fault("end_txn_delay")


class FakeNode:
    """A broker whose shell answers from a script of outputs."""

    host = "broker-1"
    is_running = True

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        line = " ".join(cmd)
        self.ran.append(line)
        for start, out in self.answers.items():
            if line.startswith(start) or start in line:
                return 0, out
        return 0, ""


class FakeProducer:
    def __init__(self) -> None:
        self.paused = False

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False


def test_healing_removes_the_rules_and_lets_the_producer_run(tmp_path: Path) -> None:
    node = FakeNode({"ss -Htni": SS})
    fault = make_fault("end_txn_delay", workload="producer-p0")
    assert isinstance(fault, EndTxnDelay)
    producer = FakeProducer()
    producer.pause()
    fault._rules = {node: ["-p tcp --sport 41234 -j DROP"]}  # type: ignore[dict-item]
    fault._frozen = producer  # type: ignore[assignment]
    fault.active = True
    cluster: Any = type("Cluster", (), {"run_dir": tmp_path, "brokers": []})()
    fault.heal(FaultContext(cluster=cluster, timeline=Timeline(tmp_path)))
    assert not producer.paused
    assert any(f"iptables -X {fault.chain}" in ran for ran in node.ran)


def test_a_broker_that_never_answers_ends_the_wait_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chaos.faults.end_txn.DELIVERY_WAIT", 0.3)
    node = FakeNode({"ss -Htni": SS})
    fault = make_fault("end_txn_delay", workload="producer-p0")
    assert isinstance(fault, EndTxnDelay)
    fault._sent = {node: {41234: 9120}}  # type: ignore[dict-item]
    with pytest.raises(FaultError, match="broker-1 to answer the held EndTxn"):
        fault._wait_answered(node, {41234})  # type: ignore[arg-type]


def test_another_transactional_client_is_refused(tmp_path: Path) -> None:
    @dataclass
    class Spec:
        mode: str = ""
        strategy: str = ""

    @dataclass
    class Process:
        spec: Spec
        run_dir: Path

    workloads = {
        "producer-p0": Process(Spec(mode="transactional"), tmp_path),
        "consumer-c0": Process(Spec(strategy="transactional"), tmp_path),
    }
    cluster: Any = type("Cluster", (), {"run_dir": tmp_path, "brokers": []})()
    ctx = FaultContext(cluster=cluster, workloads=workloads, timeline=Timeline(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="consumer-c0 also commits transactions"):
        make_fault("end_txn_delay", workload="p0").inject(ctx)


def test_an_answer_or_a_close_ends_the_wait(tmp_path: Path) -> None:
    answered = SS.replace("bytes_sent:9120", "bytes_sent:9200")
    closed = "\n".join(SS.splitlines()[2:])
    for out in (answered, closed):
        node = FakeNode({"ss -Htni": out})
        fault = make_fault("end_txn_delay", workload="producer-p0")
        assert isinstance(fault, EndTxnDelay)
        fault._sent = {node: {41234: 9120}}  # type: ignore[dict-item]
        fault._wait_answered(node, {41234})  # type: ignore[arg-type]
