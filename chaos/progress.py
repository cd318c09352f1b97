"""Progress reporting: long operations call a ``Progress`` with one short line at a time."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Progress = Callable[[str], None]


def silent(message: str) -> None:
    """A :data:`Progress` that discards everything."""
    del message


class StderrProgress:
    """A :data:`Progress` printing ``[  12.3s] message`` lines to stderr, for a person watching."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self._t0:6.1f}s] {message}", file=sys.stderr, flush=True)
