"""Lifecycle events of runs and suites, and the listeners that subscribe to them.

The runner says what happens (a phase started or ended, a fault was injected or healed, a status
line's totals, a run finished, a suite's results changed); progress output, live status and reporters are listeners.
A listener that raises is logged and dropped from that one call: it never stops a run.

>>> seen = []
>>> bus = EventBus([seen.append, lambda e: 1 / 0])
>>> bus.emit("phase_started", "b1", phase="faults")
>>> seen[0].kind, seen[0].data["phase"]
('phase_started', 'faults')
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

EventKind = Literal[
    "phase_started",  # data: phase, detail
    "phase_ended",  # data: phase, ok, error
    "fault_injected",  # data: fault, kind, targets
    "fault_healed",  # data: fault, kind, targets
    "fault_event",  # any other timeline entry (verified, inject_failed, escalated)
    "status",  # data: phase, sent, acked, errors, processed, faults
    "note",  # data: text (something a person watching should know)
    "run_finished",  # data: result (a chaos.results.RunResult)
    "suite_updated",  # data: suite (a chaos.results.SuiteResult), after every run and at the end
]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in run ``run`` (an experiment's label; ``""`` for a suite)."""

    kind: EventKind
    run: str
    data: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.time)


Listener = Callable[[Event], None]


class EventBus:
    """Delivers each event to every listener, in order; a failing listener is logged, not raised."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: list[Listener] = list(listeners)

    def subscribe(self, listener: Listener) -> None:
        """Add ``listener`` (it sees every later event)."""
        self.listeners.append(listener)

    def emit(self, kind: EventKind, run: str, /, **data: Any) -> None:
        """Deliver one event."""
        event = Event(kind, run, data)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as e:  # a listener is never worth a failed run
                log.warning("event listener %r failed on %s: %s", listener, kind, e)
