"""The steady and settle phases' flow criterion, and the consumers' poll counts it reads."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from chaos.experiments.steady import wait_flowing
from chaos.workloads.ledger import ConsumerLedger
from chaos.workloads.totals import Totals, totals


def test_a_members_poll_count_adds_up_across_its_restarts(tmp_path: Path) -> None:
    (tmp_path / "ledgers").mkdir()
    first = ConsumerLedger(tmp_path, "c0", {"group": "g"})
    first.polled(3)  # written at once: the steady phase waits for the file
    assert (tmp_path / "ledgers" / "consumer-c0.polled").read_text() == "3"
    first.polled(4)  # within POLLED_EVERY_S of the last write: counted, written later
    first.close()
    restarted = ConsumerLedger(tmp_path, "c0", {"group": "g"})
    restarted.polled(2)
    other = ConsumerLedger(tmp_path, "c1", {"group": "g"})
    other.polled(5)
    assert totals(tmp_path).polled == 3 + 4 + 2 + 5
    assert not list((tmp_path / "ledgers").glob("*.tmp"))


@dataclass
class Worker:
    alive: bool = True


@dataclass
class FakeExecution:
    """Producers acking 100 records per check; the consumer's polls and processing as given."""

    polled: Iterator[int] | None
    processed: Iterator[int] | None
    acked: Iterator[int] = field(default_factory=lambda: itertools.count(0, 100))

    def workloads(self, kind: str) -> list[Worker]:
        return [Worker()]

    def totals(self) -> Totals:
        return Totals(
            acked=next(self.acked),
            polled=next(self.polled) if self.polled else 0,
            processed=next(self.processed) if self.processed else 0,
        )


def flowing_after(ex: FakeExecution, upper: float = 3.0) -> float:
    return wait_flowing(cast(Any, ex), acks=True, upper=upper, for_s=0.5)


def test_a_consumer_that_buffers_its_polls_flows_before_it_processes_anything() -> None:
    # The brief's batched consumer: given records at every poll, processing once a minute.
    assert flowing_after(FakeExecution(polled=itertools.count(0, 50), processed=None)) < 1.5


def test_a_consumer_without_a_poll_count_flows_by_what_it_processes() -> None:
    assert flowing_after(FakeExecution(polled=None, processed=itertools.count(0, 50))) < 1.5


def test_a_consumer_given_nothing_keeps_the_phase_waiting_to_its_bound() -> None:
    assert flowing_after(FakeExecution(polled=itertools.repeat(7), processed=itertools.repeat(0)), upper=2.0) >= 2.0
