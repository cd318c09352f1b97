"""Watching the topic's ISR while faults act and heal: an ``isr`` event in ``timeline.jsonl`` each
time the number of under-replicated partitions changes, from which the verdict says how long after
each heal the topic had its full ISR again (``chaos.oracle.availability``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from chaos.faults.base import Timeline

log = logging.getLogger(__name__)

#: Seconds between two looks at the topic's partitions.
INTERVAL_S = 1.0


class Replicated(Protocol):
    """A partition as the cluster's metadata describes it (its in-sync replicas)."""

    @property
    def isr(self) -> Sequence[int]: ...


class IsrWatch:
    """A thread that samples the topic's ISR every :data:`INTERVAL_S` until stopped.

    ``partitions`` asks the cluster for the topic's partitions now (it may raise: a broker down
    mid-fault); an ``isr`` entry goes to ``timeline`` each time the count of partitions with fewer
    than ``replication_factor`` in-sync replicas changes.
    """

    def __init__(
        self,
        partitions: Callable[[], Sequence[Replicated]],
        replication_factor: int,
        timeline: Timeline,
        interval: float = INTERVAL_S,
    ) -> None:
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.timeline = timeline
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: int | None = None

    def sample(self) -> None:
        """Look once; record an ``isr`` event when the count changed (a broker that does not answer
        is looked at again next time)."""
        try:
            states = self.partitions()
        except Exception as e:  # a broker down mid-fault is expected here: look again next time
            log.debug("ISR sample failed: %s", e)
            return
        under = sum(1 for p in states if len(p.isr) < self.replication_factor)
        if under != self.last:
            self.timeline.note("isr", under_replicated=under, partitions=len(states))
            self.last = under

    def start(self) -> None:
        """Start sampling (no-op if already started)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, name="kafka-chaos-isr", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.sample()
