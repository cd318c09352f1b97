"""Lifecycle events of runs and suites, and the listeners that subscribe to them.

The runner says what happens (a phase started or ended, a fault was injected or healed, a status
line's totals, a run finished, a suite's results changed); progress output, live status and
reporters are listeners. Each event is a frozen, typed payload: a listener matches on its class and
reads its fields, which mypy checks. A listener that raises is logged and dropped from that one
call: it never stops a run. The events that carry a run's or a suite's result
(:class:`chaos.results.RunFinished`, :class:`chaos.results.SuiteUpdated`) live with those results.

>>> seen = []
>>> bus = EventBus([seen.append, lambda e: 1 / 0])
>>> bus.emit(PhaseStarted(run="b1", phase="faults"))
>>> seen[0].kind, seen[0].phase
('phase_started', 'faults')
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened in run ``run`` (an experiment's label; ``""`` for a suite)."""

    kind: ClassVar[str] = "event"
    run: str
    t: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStarted(Event):
    """A phase began (``detail``: what it does, when worth saying)."""

    kind: ClassVar[str] = "phase_started"
    phase: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseEnded(Event):
    """A phase ended, passed or with the error that ended it."""

    kind: ClassVar[str] = "phase_ended"
    phase: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultHappened(Event):
    """A timeline entry of a fault: ``event`` is ``inject``, ``verify``, ``heal``, ``inject_failed``,
    ``escalated`` or a fault's own (``power_cut`` ...); ``detail`` holds the rest of the entry."""

    kind: ClassVar[str] = "fault_event"
    event: str
    fault: str
    fault_kind: str | None = None
    targets: tuple[str, ...] = ()
    detail: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, run: str, entry: Mapping[str, object]) -> FaultHappened:
        """The event of one timeline entry (``event``, ``fault``, ``kind``, ``targets``, the rest)."""
        targets = entry.get("targets")
        rest = {k: v for k, v in entry.items() if k not in ("event", "fault", "kind", "targets", "t")}
        return cls(
            run=run,
            event=str(entry.get("event")),
            fault=str(entry.get("fault")),
            fault_kind=None if entry.get("kind") is None else str(entry.get("kind")),
            targets=tuple(str(t) for t in targets) if isinstance(targets, list | tuple) else (),
            detail=rest,
        )

    @property
    def injected(self) -> bool:
        """An inject (the fault is on)."""
        return self.event == "inject"

    @property
    def healed(self) -> bool:
        """A heal (the fault is off)."""
        return self.event == "heal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Status(Event):
    """A status line's totals: records sent, acknowledged, failed and processed so far."""

    kind: ClassVar[str] = "status"
    phase: str | None
    sent: int
    acked: int
    errors: int
    processed: int
    faults: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Event):
    """Something a person watching should know."""

    kind: ClassVar[str] = "note"
    text: str


Listener = Callable[[Event], None]


class EventBus:
    """Delivers each event to every listener, in order; a failing listener is logged, not raised."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: list[Listener] = list(listeners)

    def subscribe(self, listener: Listener) -> None:
        """Add ``listener`` (it sees every later event)."""
        self.listeners.append(listener)

    def emit(self, event: Event) -> None:
        """Deliver ``event``."""
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as e:  # a listener is never worth a failed run
                log.warning("event listener %r failed on %s: %s", listener, event.kind, e)
