"""``ledgers/producer-<id>.returned``: where, inside the current intent range, a producer's sends
have returned (``docs/ledgers.md``), kept so that a kill mid-range leaves no returned send uncounted."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ReturnedMark:
    """``[start, upto)``: the records of the current intent range whose ``send()`` has returned, in
    a two-cell file mapped into memory. Updating it is a memory store, cheap enough for every record;
    the pages belong to the kernel's page cache, so they survive a SIGKILL of the writer. A range's
    ``RETURNED`` event still follows when the range ends; the mark covers a range cut short.

    A writer that starts over first turns the mark its predecessor left into a ``RETURNED`` event.
    Raises ``OSError`` if the file cannot be created or mapped.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.stat().st_size != 16:
            path.write_bytes(bytes(16))
        self.cells: np.memmap[tuple[int], np.dtype[np.uint64]] = np.memmap(path, dtype="<u8", mode="r+", shape=(2,))

    def left_over(self) -> tuple[int, int] | None:
        """The range a killed predecessor left, if it is not empty."""
        start, upto = int(self.cells[0]), int(self.cells[1])
        return (start, upto) if upto > start else None

    def begin(self, start: int) -> None:
        """A new range starts at ``start`` (nothing of it returned yet)."""
        self.cells[0] = start
        self.cells[1] = start

    def upto(self, end: int) -> None:
        """The sends of the range before ``end`` have returned (hot loops store ``cells[1]`` directly)."""
        self.cells[1] = end

    def close(self) -> None:
        """Unmap the file (the data stays in it)."""
        self.cells.flush()
        del self.cells


def read_returned_mark(path: Path) -> tuple[int, int] | None:
    """The non-empty ``[start, upto)`` range in a ``.returned`` file, or None."""
    if not path.exists() or path.stat().st_size != 16:
        return None
    start, upto = (int(x) for x in np.fromfile(path, dtype="<u8"))
    return (start, upto) if upto > start else None
