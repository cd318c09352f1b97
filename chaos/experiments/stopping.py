"""The stop phase (``docs/phases.md``): bounded producers finish by themselves, or are stopped;
then the consumers catch up with what was acknowledged and are stopped. A process that ignores
SIGTERM is SIGKILLed, and a note says so."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Protocol

from chaos.errors import ChaosError
from chaos.waiting import Quiet, WaitTimeout, wait_until
from chaos.workloads.totals import Totals


class Stoppable(Protocol):
    """A workload process as the stop phase handles it."""

    @property
    def name(self) -> str: ...

    @property
    def alive(self) -> bool: ...

    @property
    def escalated(self) -> bool: ...

    def stop(self, timeout: float) -> int | None: ...


def stop_workloads(
    producers: Sequence[Stoppable],
    consumers: Sequence[Stoppable],
    totals: Callable[[bool], Totals],
    note: Callable[[str], None],
    bounded: bool,
    stop_timeout: float,
    consume_timeout: float,
    consume_quiet: float = 3.0,
) -> None:
    """Let bounded producers finish (else stop them), then let consumers catch up and stop them.

    ``totals(distinct)`` reads the ledgers; ``note`` tells whoever watches what did not go to plan.
    The consumers have caught up when as many distinct records were processed as were
    acknowledged, or nothing new was processed for ``consume_quiet`` s (or at the timeout).
    """
    if bounded:
        done = lambda: not any(p.alive for p in producers)  # noqa: E731
        try:
            wait_until(done, stop_timeout, "the bounded producers to finish")
        except ChaosError as e:
            note(f"{e}; stopping them")
    for producer in producers:
        _stop(producer, stop_timeout, note)
    if consumers:
        quiet = Quiet(lambda: totals(False).processed, quiet_for=consume_quiet)

        def caught_up() -> bool:
            done = totals(True)
            every_ack_processed = done.acked > 0 and (done.processed_distinct or 0) >= done.acked
            return every_ack_processed or quiet() or not any(c.alive for c in consumers)

        with suppress(WaitTimeout):
            wait_until(caught_up, consume_timeout, "the consumers to catch up", interval=0.5)
        for consumer in consumers:
            _stop(consumer, stop_timeout, note)


def _stop(process: Stoppable, timeout: float, note: Callable[[str], None]) -> None:
    process.stop(timeout)
    if process.escalated:
        note(f"{process.name} ignored SIGTERM for {timeout:.0f} s: SIGKILLed")
