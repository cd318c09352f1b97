"""One place that waits: :func:`wait_until` polls a check until it holds or a deadline passes, and
says what it was waiting for (and what it last saw) when it gives up.

Hand-written rather than tenacity: every wait here is "poll a cheap check until truthy", and what a
timeout must carry (what was awaited, the last observation, the kind of error) is the whole point;
a retry library would need the same lines around it.

>>> wait_until(lambda: 42, timeout=1, what="the answer")
42
>>> wait_until(lambda: None, timeout=0.05, what="nothing", interval=0.01)
Traceback (most recent call last):
...
chaos.waiting.WaitTimeout: timed out after 0.05 s waiting for nothing
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from chaos.errors import InfrastructureError

T = TypeVar("T")


class WaitTimeout(InfrastructureError):
    """A wait gave up: ``what`` it waited for, after ``timeout`` seconds, and what it ``last`` saw."""

    def __init__(self, what: str, timeout: float, last: str = "") -> None:
        shown = f"{timeout:.0f}" if timeout >= 1 else f"{timeout:g}"
        super().__init__(f"timed out after {shown} s waiting for {what}" + (f" (last seen: {last})" if last else ""))
        self.what = what
        self.timeout = timeout
        self.last = last


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    seen: Callable[[], str] | None = None,
    error: Callable[[str], Exception] | None = None,
) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something truthy; return that.

    ``seen`` describes the last observation for the timeout message; ``error`` builds another
    exception from the message (a phase timeout, a cluster that is not healthy). An exception raised
    by ``check`` itself propagates at once: a check raises when waiting longer cannot help.

    Raises:
        WaitTimeout: ``check`` stayed falsy for ``timeout`` seconds (or what ``error`` builds).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            timed_out = WaitTimeout(what, timeout, seen() if seen is not None else "")
            if error is None:
                raise timed_out
            raise error(str(timed_out)) from timed_out
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())) or interval)


class Quiet:
    """True once ``read()`` has not changed for ``quiet_for`` seconds."""

    def __init__(self, read: Callable[[], object], quiet_for: float) -> None:
        self.read = read
        self.quiet_for = quiet_for
        self.last: object = object()
        self.since = time.monotonic()

    def __call__(self) -> bool:
        now = self.read()
        if now != self.last:
            self.last, self.since = now, time.monotonic()
            return False
        return time.monotonic() - self.since > self.quiet_for


class Flowing:
    """True once ``read()`` has risen and then never stood still for more than ``gap_s`` seconds, for
    ``for_s`` seconds: records flowing steadily, not in a burst. With ``gap_s`` 0 it must rise at
    every call; a producer that batches for its linger acknowledges in bursts that far apart.
    ``start`` is the count before the first call (``None``: the first call only reads it); ``clock``
    tells the time.

    >>> counts = iter([1, 2, 3, 4, 5])
    >>> flowing = Flowing(lambda: next(counts), for_s=0.0)
    >>> [flowing() for _ in range(3)]
    [False, True, True]
    """

    def __init__(
        self,
        read: Callable[[], int],
        for_s: float,
        gap_s: float = 0.0,
        start: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.clock = clock
        self.for_s = for_s
        self.gap_s = gap_s
        self.last: int | None = start
        self.rose: float | None = None
        self.since: float | None = None

    def __call__(self) -> bool:
        now, at = self.read(), self.clock()
        if self.last is not None and now > self.last:
            self.rose = at
            if self.since is None:
                self.since = at
        self.last = now
        if self.rose is None or at - self.rose > self.gap_s:
            self.since = None
            return False
        return self.since is not None and at - self.since >= self.for_s


def wait_at_most(
    check: Callable[[], bool],
    upper: float,
    interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until ``check()`` holds, ``upper`` seconds at most (then go on: the fixed figure is the
    bound, not a failure); returns the seconds waited (by ``clock``, sleeping with ``sleep``).

    >>> wait_at_most(lambda: True, 5.0)
    0.0
    """
    started = clock()
    while not check():
        left = upper - (clock() - started)
        if left <= 0:
            break
        sleep(min(interval, left))
    return round(clock() - started, 2)
