"""A workload's log kept to a bounded size when a client repeats itself: a client stuck in a loop
(kafka-python's sender raising ``UnknownBrokerIdError`` for a broker its metadata lost, thousands of
times a second, each with a traceback) would otherwise fill the disk over a soak. The first
:data:`BURST` records of a kind in a minute pass; the rest are counted and said in one line when the
next of that kind comes after the minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Records of one kind (logger, level, message template, exception type) let through per minute.
BURST = 5
PERIOD_S = 60.0


class RepeatLimit(logging.Filter):
    """Lets :data:`BURST` records of each kind through per :data:`PERIOD_S`, and counts the rest.

    >>> f, now = RepeatLimit(clock=lambda: now[0]), [0.0]
    >>> rec = lambda: logging.LogRecord("kafka", logging.ERROR, "x", 1, "stuck on %s", ("3",), None)
    >>> [f.filter(rec()) for _ in range(7)]
    [True, True, True, True, True, False, False]
    >>> now[0] = 61.0; r = rec(); f.filter(r), r.getMessage()
    (True, 'stuck on 3 (and 2 more like it in the last minute, not logged)')
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self._kinds: dict[tuple[str, int, str, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, record.levelno, str(record.msg), error)
        now = self.clock()
        since, passed, dropped = self._kinds.get(kind, (now, 0, 0))
        if now - since >= PERIOD_S:
            if dropped:
                record.msg = f"{record.msg} (and {dropped} more like it in the last minute, not logged)"
            self._kinds[kind] = (now, 1, 0)
            return True
        if passed < BURST:
            self._kinds[kind] = (since, passed + 1, dropped)
            return True
        self._kinds[kind] = (since, passed, dropped + 1)
        return False


def limit_repeats() -> None:
    """Put a :class:`RepeatLimit` on every handler of the root logger (after ``basicConfig``)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatLimit())
