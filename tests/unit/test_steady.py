"""The steady and settle phases' flow criterion, and the consumers' poll counts it reads."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chaos.experiments.steady import CHECK_S, wait_flowing
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
class Clock:
    """Time that passes only when the code under test sleeps."""

    now: float = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float, /) -> None:
        self.now += seconds


@dataclass
class Workloads:
    """A producer acking 100 records per check; the consumer's polls and processing as given."""

    polled: Iterator[int] | None
    processed: Iterator[int] | None
    acked: Iterator[int] = field(default_factory=lambda: itertools.count(0, 100))
    producer_settings: dict[str, str] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    checks: int = 0

    def totals(self) -> Totals:
        self.checks += 1
        return Totals(
            acked=next(self.acked),
            polled=next(self.polled) if self.polled else 0,
            processed=next(self.processed) if self.processed else 0,
        )

    def flowing(self, upper: float, from_zero: bool = False) -> float:
        """Seconds (of :attr:`clock`) until the flow criterion holds, ``upper`` at most."""
        consumers = self.polled is not None or self.processed is not None
        producers = [Worker(spec=Spec(self.producer_settings))]
        return wait_flowing(
            self.totals, producers, consumers, True, upper, for_s=0.5, from_zero=from_zero, clock=self.clock
        )


def test_a_consumer_that_buffers_its_polls_flows_before_it_processes_anything() -> None:
    # A batched consumer: given records at every poll, processing once a minute.
    workloads = Workloads(polled=itertools.count(0, 50), processed=itertools.repeat(0))
    # a baseline, a first rise, then rising for 0.5 s: four checks
    assert workloads.flowing(upper=3.0) == 3 * CHECK_S
    assert workloads.checks == 4


def test_a_consumer_without_a_poll_count_flows_by_what_it_processes() -> None:
    assert Workloads(polled=None, processed=itertools.count(0, 50)).flowing(upper=3.0) == 3 * CHECK_S


def test_a_producer_alone_flows_by_its_acks() -> None:
    assert Workloads(polled=None, processed=None).flowing(upper=3.0) == 3 * CHECK_S


def test_a_consumer_given_nothing_keeps_the_phase_waiting_to_its_bound() -> None:
    workloads = Workloads(polled=itertools.repeat(7), processed=itertools.repeat(0))
    assert workloads.flowing(upper=2.0) == 2.0
    assert workloads.checks == 2.0 / CHECK_S + 1  # it looked at every check, to the last


def bursts(clock: Clock, every_s: float, first: int = 0) -> Iterator[int]:
    """Acks as a lingering producer gets them: ``first``, then 100 more each ``every_s`` seconds."""
    started = clock.monotonic()
    while True:
        yield first + 100 * int((clock.monotonic() - started) / every_s)


def lingering(every_s: float, linger_ms: str, first: int = 0) -> Workloads:
    clock = Clock()
    return Workloads(None, None, bursts(clock, every_s, first), {"linger.ms": linger_ms}, clock)


def test_a_lingering_producers_bursts_flow_before_the_bound() -> None:
    # linger.ms=1000: acks every second, standing still between: flowing, not a stalled producer.
    # The first burst at 1 s is the first rise; the one at 2 s keeps it flowing past the 0.5 s asked for.
    assert lingering(1.0, "1000").flowing(upper=4.0) == 1.5


def test_bursts_a_second_apart_without_a_linger_to_explain_them_wait_to_the_bound() -> None:
    assert lingering(1.0, "5").flowing(upper=3.0) == 3.0


def test_the_steady_phase_counts_the_first_burst_as_a_rise_from_zero() -> None:
    # The first acks are in before the first check; the next burst is 2 s away.
    assert lingering(2.0, "2000", 100).flowing(4.0, from_zero=True) == 0.5
    # the settle phase's baseline: the first rise is the burst at 2 s
    assert lingering(2.0, "2000", 100).flowing(4.0) == 2.5
