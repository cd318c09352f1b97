"""Kafka's segment dump as the witness of a soak whose topic has a retention: an example acknowledged
below its partition's log start was deleted by the retention, and is not searched for (not found, it
would read as gone from every replica, a loss confirmed that nobody saw)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chaos.errors import InfrastructureError
from chaos.experiments.witness import witness
from chaos.workloads.envelope import MAGIC

RUN = "r1"


class Broker:
    """A running broker whose segment search finds what it is told to."""

    host = "broker-1"
    is_running = True

    def __init__(self, holds: list[str]) -> None:
        self.holds = holds

    def exec(self, cmd: list[str]) -> tuple[int, str]:
        return 0, "".join(f"{MAGIC.decode()};{RUN};{h};\n" for h in self.holds)


def _witness(tmp_path: Path, log_start: object) -> dict[str, Any]:
    cluster = SimpleNamespace(brokers=[Broker(["p0;60"])], data_dirs=lambda: ["/var/lib/kafka/data"])
    lost = [
        {"producer": "p0", "seq": 5, "partition": 0, "offset": 10},  # a first window's, deleted since
        {"producer": "p0", "seq": 50, "partition": 0, "offset": 500},  # a latest window's
    ]
    verdict = SimpleNamespace(conclusive=True, examples={"broker": lost})
    assert witness(cluster, "t", 1, RUN, tmp_path, verdict, {0: "p0;60"}, log_start)  # type: ignore[arg-type]
    found: dict[str, Any] = json.loads((tmp_path / "drain" / "witness.json").read_text())
    return found


def test_an_example_below_its_partitions_log_start_is_not_searched_for(tmp_path: Path) -> None:
    found = _witness(tmp_path, lambda: {0: 100})
    assert [c["seq"] for c in found["checked"]] == [50]
    assert found["checked"][0]["on_disk_of"] == []  # searched: gone from every replica
    assert [d["seq"] for d in found["deleted"]] == [5]


def test_every_example_deleted_or_no_log_start_to_ask_is_no_answer(tmp_path: Path) -> None:
    found = _witness(tmp_path, lambda: {0: 1_000})
    assert "retention deleted" in str(found["error"]) and "checked" not in found

    def fails() -> dict[int, int]:
        raise InfrastructureError("Kafka's offsets tool failed on broker-1 (exit 1)")

    found = _witness(tmp_path, fails)
    assert "error" in found and len(found["deleted"]) == 2
