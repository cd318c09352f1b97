"""``ledgers/consumer-<id>.polled``: how many records a consumer member's polls have given it, in
every process of the member. The steady phase waits for the file before it injects faults; the
steady and settle phases judge a consumer flowing while the count rises, whether the member
processes each poll at once or buffers a minute of them (``docs/ledgers.md``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def read_polled(path: Path) -> int:
    """The count in ``path``; 0 before the member's first poll."""
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0


class PollCount:
    """The count one process keeps, going on from what an earlier process of the member wrote, so
    it only ever rises; rewritten at most every ``every_ns`` of ``monotonic_ns`` (the spec's
    ``protocol.polled_every_ms``: a harness checks it 4 times a second). Never raises for a missing
    file; ``OSError`` if the ledger directory cannot be written."""

    def __init__(self, path: Path, every_ns: int, monotonic_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.path = path
        self.count = read_polled(path)
        self._every_ns = every_ns
        self._monotonic_ns = monotonic_ns
        self._written: int | None = None

    def add(self, records: int) -> None:
        """A poll gave ``records``: written at once the first time, then at most every ``every_ns``."""
        self.count += records
        now = self._monotonic_ns()
        if self._written is None or now - self._written >= self._every_ns:
            self.write()
            self._written = now

    def write(self) -> None:
        """Replace the file whole: a reader sees the old count or the new, never a torn one."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(str(self.count))
        os.replace(tmp, self.path)
