"""Progress reporting: long operations call a ``Progress`` with one short line at a time."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from chaos.events import Event, Note, PhaseStarted, Status

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


class ProgressListener:
    """Turns lifecycle events (:mod:`chaos.events`) into progress lines for a person watching."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, event: Event) -> None:
        """Print the line ``event`` deserves, if any."""
        if self.progress is silent:
            return
        line = self.line(event)
        if line:
            self.progress(line)

    @staticmethod
    def line(event: Event) -> str:
        """The progress line of ``event`` (empty: none).

        >>> from chaos.events import PhaseStarted, Status
        >>> ProgressListener.line(PhaseStarted(run="b1", phase="drain"))
        'b1: drain'
        >>> ProgressListener.line(Status(run="b1", phase="faults", sent=9, acked=8, errors=0, processed=7,
        ...     faults=("broker_kill-0",)))
        'b1: faults · sent 9 acked 8 errors 0 processed 7 · faults: broker_kill-0'
        """
        match event:
            case PhaseStarted(phase=phase, detail=detail):
                return f"{event.run}: {phase}" + (f" · {detail}" if detail else "")
            case Status():
                faults = ", ".join(event.faults)
                return (
                    f"{event.run}: {event.phase} · sent {event.sent} acked {event.acked} errors {event.errors} "
                    f"processed {event.processed}" + (f" · faults: {faults}" if faults else "")
                )
            case Note(text=text):
                return f"{event.run}: {text}" if event.run else text
        return ""
