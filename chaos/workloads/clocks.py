"""Where the ledger writers read the time, so that a test can give them a fixed one and compare two
writers' bytes exactly (``tests/unit/test_ledger_golden.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clocks:
    """Where a writer reads the time: the wall clock (``t_ms`` of its rows, its meta's ``start_ns``)
    and a monotonic one (how long grouped acks and the ``.polled`` count have waited), both in
    nanoseconds. A test gives fixed ones, so two writers' bytes can be compared exactly."""

    def __init__(
        self, wall_ns: Callable[[], int] = time.time_ns, monotonic_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.wall_ns = wall_ns
        self.monotonic_ns = monotonic_ns


SYSTEM_CLOCKS = Clocks()


class Clock:
    """Milliseconds since a start time recorded in the writer's meta file."""

    def __init__(self, start_ns: int | None = None, wall_ns: Callable[[], int] = time.time_ns) -> None:
        self._wall_ns = wall_ns
        self.start_ns = start_ns if start_ns is not None else wall_ns()

    def ms(self) -> int:
        """Milliseconds since start (0 before it, saturating at 2^32-1, ~49 days)."""
        return max(0, min((self._wall_ns() - self.start_ns) // 1_000_000, 0xFFFFFFFF))
