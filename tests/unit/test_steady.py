"""The steady and settle phases' flow criterion, and the consumers' poll counts it reads."""

from __future__ import annotations

import itertools
import time
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
    first.polled(4)  # within polled_every_ms of the last write: counted, written later
    first.close()
    restarted = ConsumerLedger(tmp_path, "c0", {"group": "g"})
    restarted.polled(2)
    other = ConsumerLedger(tmp_path, "c1", {"group": "g"})
    other.polled(5)
    assert totals(tmp_path).polled == 3 + 4 + 2 + 5
    assert not list((tmp_path / "ledgers").glob("*.tmp"))


@dataclass
class Spec:
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class Worker:
    alive: bool = True
    spec: Spec = field(default_factory=Spec)


@dataclass
class FakeExecution:
    """Producers acking 100 records per check; the consumer's polls and processing as given."""

    polled: Iterator[int] | None
    processed: Iterator[int] | None
    acked: Iterator[int] = field(default_factory=lambda: itertools.count(0, 100))
    producer_settings: dict[str, str] = field(default_factory=dict)

    def workloads(self, kind: str) -> list[Worker]:
        if kind == "consumer" and self.polled is None and self.processed is None:
            return []  # a producer alone
        return [Worker(spec=Spec(self.producer_settings))]

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


def bursts(every_s: float, first: int = 0) -> Iterator[int]:
    """Acks as a lingering producer gets them: ``first``, then 100 more each ``every_s`` seconds."""
    started = time.monotonic()
    while True:
        yield first + 100 * int((time.monotonic() - started) / every_s)


def test_a_lingering_producers_bursts_flow_before_the_bound() -> None:
    # linger.ms=1000: acks every second, standing still between: flowing, not a stalled producer.
    lingering = FakeExecution(polled=None, processed=None, acked=bursts(1.0), producer_settings={"linger.ms": "1000"})
    assert flowing_after(lingering, upper=4.0) < 3.0


def test_bursts_a_second_apart_without_a_linger_to_explain_them_wait_to_the_bound() -> None:
    stuttering = FakeExecution(polled=None, processed=None, acked=bursts(1.0), producer_settings={"linger.ms": "5"})
    assert flowing_after(stuttering, upper=3.0) >= 3.0


def test_the_steady_phase_counts_the_first_burst_as_a_rise_from_zero() -> None:
    # The first acks are in before the first check; the next burst is 2 s away.
    def lingering() -> Any:
        return cast(
            Any,
            FakeExecution(polled=None, processed=None, acked=bursts(2.0, 100), producer_settings={"linger.ms": "2000"}),
        )

    assert wait_flowing(lingering(), acks=True, upper=4.0, for_s=0.5, from_zero=True) < 1.5
    assert wait_flowing(lingering(), acks=True, upper=4.0, for_s=0.5) >= 2.0  # the settle phase's baseline
