"""Kafka's share group tool as the witness of a share group's start offsets: what it printed is read
by its header, a group it did not answer for is named and left unjudged, and the drain's file says
what it found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.cluster.kafka_tools import share_start_offsets
from chaos.errors import InfrastructureError
from chaos.experiments.witness import kafka_answers
from chaos.workloads.ledger import write_meta

#: What ``kafka-share-groups.sh --describe --offsets`` printed on Kafka 4.4.0.
DESCRIBED = """
GROUP   TOPIC   PARTITION  START-OFFSET  LAG
g       orders  0          1047          0
g       orders  1          970           3
g       orders  2          -             -
g       other   0          5             0
"""


class Broker:
    """A running broker whose container answers one command."""

    host = "broker-1"
    is_running = True

    def __init__(self, code: int, text: str) -> None:
        self.answer, self.asked = (code, text), list[list[str]]()

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        self.asked.append(cmd)
        return self.answer


def test_the_start_offsets_are_read_by_the_tool_s_header_for_the_run_s_topic_only() -> None:
    broker = Broker(0, DESCRIBED)
    assert share_start_offsets([broker], "orders", "g") == {0: 1047, 1: 970}  # type: ignore[list-item]
    (cmd,) = broker.asked
    assert cmd[-4:] == ["--describe", "--offsets", "--group", "g"] and "broker-1:9091" in cmd


def test_a_group_with_no_share_partition_state_yet_has_no_starts_and_is_no_failure() -> None:
    # what the tool prints, exit 0, for a group none of whose partitions has been initialised
    silent = Broker(0, "\nShare group 'g' has no offset information.\n")
    assert share_start_offsets([silent], "orders", "g") == {}  # type: ignore[list-item]


def test_a_tool_that_failed_raises_with_what_it_printed() -> None:
    with pytest.raises(InfrastructureError, match=r"failed on broker-1 \(exit 1\): Error: no such group"):
        share_start_offsets([Broker(1, "Error: no such group")], "orders", "g")  # type: ignore[list-item]


def test_the_drain_file_holds_each_share_group_s_starts_and_a_silent_one_is_named(tmp_path: Path) -> None:
    ledgers = tmp_path / "ledgers"
    for member, group, strategy in (("c0", "g", "share"), ("c1", "h", "share"), ("c2", "classic", "auto")):
        write_meta(ledgers / f"consumer-{member}.json", {"group": group, "strategy": strategy})
    notes: list[str] = []

    def starts(group: str) -> dict[int, int]:
        if group == "h":
            raise InfrastructureError("no answer")
        return {0: 7}

    kafka_answers(lambda: {"beginning": {0: 0}, "end": {0: 9}}, tmp_path, notes.append, starts)
    found = json.loads((tmp_path / "drain" / "kafka-offsets.json").read_text())
    assert found == {"beginning": {"0": 0}, "end": {"0": 9}, "share_start": {"g": {"0": 7}}}
    assert notes == ["Kafka's share group tool did not answer for h, so its share loss is unknown: no answer"]
