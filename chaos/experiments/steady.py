"""Waiting for a steady state instead of sleeping: faults start once the workloads flow, and after
healing the run waits until they flow again (``docs/phases.md``: the ``steady`` and ``settle``
phases). The experiment's ``warmup`` and ``settle`` are upper bounds, not fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from chaos.errors import InfrastructureError
from chaos.experiments.phases import PhaseTimeout
from chaos.experiments.plan import Plan
from chaos.waiting import Flowing, wait_at_most, wait_until
from chaos.workloads.totals import Totals

#: Seconds between two looks at the workloads' counts.
CHECK_S = 0.25


class Clock(Protocol):
    """Tells the time and waits: the :mod:`time` module, or a test's clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


class Configured(Protocol):
    """A workload's spec, as far as the flow criterion reads it: its client settings."""

    @property
    def settings(self) -> Mapping[str, str]: ...


class Producer(Protocol):
    """A producer process as the flow criterion sees it: whether it runs, and its spec."""

    @property
    def alive(self) -> bool: ...

    @property
    def spec(self) -> Configured: ...


class Exited(Protocol):
    """A process's exit code (``None`` while it runs)."""

    @property
    def returncode(self) -> int | None: ...


class Workload(Producer, Protocol):
    """A producer process as the steady phase watches it: also its name, process and output."""

    @property
    def name(self) -> str: ...

    @property
    def proc(self) -> Exited | None: ...

    def log_tail(self) -> str: ...


#: Settings that hold a producer's records back to batch them, in milliseconds (Java's name, which
#: every client here takes, and librdkafka's own).
LINGER_SETTINGS = ("linger.ms", "queue.buffering.max.ms")


def burst_gap(settings: Sequence[Mapping[str, str]], check_s: float = CHECK_S) -> float:
    """How long the workloads' counts may stand still while they flow: a producer that lingers sends
    (and is acknowledged, and its records are polled) in bursts that far apart, plus a second for
    the batch's round trip. 0 when no linger is longer than one check: then every check must see a rise.

    >>> burst_gap([{"linger.ms": "3000"}, {"acks": "all"}])
    4.0
    >>> burst_gap([{"linger.ms": "5"}])
    0.0
    """
    longest = 0.0
    for values in settings:
        for name in LINGER_SETTINGS:
            with suppress(KeyError, ValueError):
                longest = max(longest, float(values[name]) / 1000)
    return longest + 1.0 if longest > check_s else 0.0


def wait_flowing(
    totals: Callable[[], Totals],
    producers: Sequence[Producer],
    consumers: bool,
    acks: bool,
    upper: float,
    for_s: float = 1.0,
    from_zero: bool = False,
    clock: Clock = time,
) -> float:
    """Wait until the ``producers``' acks (``acks=False``: sends) and the records the consumers (if
    there are ``consumers``) are given (or, for a member that writes no poll count, process), as
    ``totals()`` reads them, have risen at every check for ``for_s`` seconds, or a producer has
    finished; ``upper`` seconds at most (by ``clock``). Returns the seconds waited. A lingering
    producer's counts rise in bursts: they may stand still for :func:`burst_gap` between checks.
    ``from_zero``: the counts began at 0 (the steady phase: what the first check reads has already
    risen), else the first check is the baseline.

    A fixed sleep waits as long when the workloads flow at once, and too little when they do not.
    Polls rather than processing: a consumer that buffers a minute of records before it processes
    them flows all the while.
    """
    now: list[Totals] = []
    gap = burst_gap([p.spec.settings for p in producers])
    start = 0 if from_zero else None
    producing = Flowing(lambda: int(getattr(now[-1], "acked" if acks else "sent")), for_s, gap, start, clock.monotonic)
    polling = Flowing(lambda: now[-1].polled, for_s, gap, start, clock.monotonic)
    processing = Flowing(lambda: now[-1].processed, for_s, gap, start, clock.monotonic)

    def flowing() -> bool:
        now[:] = [totals()]
        # every counter sampled at every check, so a rise is always against the previous check
        sending, polled, processed = producing(), polling(), processing()
        consuming = polled or processed
        done = any(not p.alive for p in producers)  # a bounded producer that has finished
        return (done or sending) and (not consumers or done or consuming)

    return wait_at_most(flowing, upper, CHECK_S, clock.monotonic, clock.sleep)


def steady(totals: Callable[[], Totals], producers: Sequence[Workload], ledgers: Path, plan: Plan) -> None:
    """First acks (a producer that dies first fails the phase), a consumer polling (a poll count in
    ``ledgers``), then the workloads flowing (``warmup`` at most).

    Raises:
        PhaseTimeout: no first ack, or no first poll, within ``steady_timeout``.
        InfrastructureError: a producer exited with an error before its first ack.
    """

    def first_acks() -> bool:
        for p in producers:
            if not p.alive and p.proc is not None and p.proc.returncode not in (0, None):
                raise InfrastructureError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")
        return not plan.expects_acks or totals().acked > 0

    budget = plan.budgets.steady_timeout
    wait_until(first_acks, budget, "the producer's first acknowledged records", error=PhaseTimeout)
    if plan.consumers:
        # A member that has been given records is in its group and consuming (it may process and
        # commit much later): faults must not start before that.
        polled = lambda: any(ledgers.glob("consumer-*.polled"))  # noqa: E731
        wait_until(polled, budget, "the consumer group's first polled records", error=PhaseTimeout)
    wait_flowing(totals, producers, bool(plan.consumers), plan.expects_acks, plan.budgets.warmup, from_zero=True)
