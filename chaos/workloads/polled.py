"""``ledgers/consumer-<id>.polled``: how many records a consumer member's polls have given it, in
every process of the member. The steady phase waits for the file before it injects faults; the
steady and settle phases judge a consumer flowing while the count rises, whether the member
processes each poll at once or buffers a minute of them (``docs/ledgers.md``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: How often at most the count is rewritten: a harness checks it 4 times a second.
POLLED_EVERY_S = 0.1


def read_polled(path: Path) -> int:
    """The count in ``path``; 0 before the member's first poll."""
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0


class PollCount:
    """The count one process keeps, going on from what an earlier process of the member wrote, so
    it only ever rises. Never raises for a missing file; ``OSError`` if the ledger directory cannot
    be written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = read_polled(path)
        self._written = -POLLED_EVERY_S

    def add(self, records: int) -> None:
        """A poll gave ``records``: written at once the first time, then at most every
        ``POLLED_EVERY_S``."""
        self.count += records
        now = time.monotonic()
        if now - self._written >= POLLED_EVERY_S:
            self.write()
            self._written = now

    def write(self) -> None:
        """Replace the file whole: a reader sees the old count or the new, never a torn one."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(str(self.count))
        os.replace(tmp, self.path)
