"""The nemesis: runs faults on a schedule and guarantees every injected fault is healed.

A schedule is a list of steps ``(at, duration, fault)``: inject at ``at`` seconds from the start,
heal ``duration`` seconds later (``None``: at the end). :func:`random_schedule` makes one from a
seed: the same seed gives the same schedule. Healing runs on success, on exceptions, on Ctrl-C and
SIGTERM (held until the healing is done), in reverse order of injection.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, make_fault
from chaos.signals import deferred_signals, sigterm_raises

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Step:
    """Inject ``fault`` at ``at`` seconds; heal it ``duration`` seconds later (``None``: at the end)."""

    at: float
    fault: Fault
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.at < 0:
            raise UsageError(f"fault {self.fault.name}: 'at' must be 0 or more, not {self.at}")
        if self.duration is not None and self.duration <= 0:
            raise UsageError(f"fault {self.fault.name}: duration must be positive, not {self.duration}")


class Nemesis:
    """Injects faults and heals them all, whatever happens.

    Example::

        with Nemesis(ctx) as nemesis:
            nemesis.run([Step(5, make_fault("broker_kill", target="leader:orders:0"), duration=10)])
        # every fault is healed here, also after an exception, Ctrl-C or SIGTERM
    """

    def __init__(self, ctx: FaultContext) -> None:
        self.ctx = ctx
        self.active: list[Fault] = []
        self._lock = threading.Lock()
        self._signals = sigterm_raises()

    def __enter__(self) -> Self:
        self._signals.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.heal_all()
        finally:
            self._signals.__exit__(None, None, None)

    def inject(self, fault: Fault) -> float:
        """Inject one fault now (it is healed by :meth:`heal_all` if not before); returns ms taken."""
        with self._lock:
            self.active.append(fault)
        return fault.inject(self.ctx)

    def heal(self, fault: Fault) -> float:
        """Heal one fault now; returns ms taken."""
        took = fault.heal(self.ctx)
        with self._lock:
            if fault in self.active:
                self.active.remove(fault)
        return took

    def heal_all(self) -> list[str]:
        """Heal every active fault, newest first; a heal that fails is logged and the rest still run.

        Returns the errors of heals that failed.
        """
        errors: list[str] = []
        with deferred_signals():
            while True:
                with self._lock:
                    if not self.active:
                        break
                    fault = self.active.pop()
                try:
                    fault.heal(self.ctx)
                except Exception as e:  # one failed heal must not leave the others in place
                    log.error("healing %s failed: %s", fault.name, e)
                    errors.append(f"{fault.name}: {e}")
        return errors

    def run(self, steps: Sequence[Step], stop: threading.Event | None = None) -> None:
        """Play ``steps`` from now; returns when every step with a duration has been healed.

        Steps without a duration stay active (healed on exit). ``stop`` ends the schedule early.
        """
        t0 = time.monotonic()
        events: list[tuple[float, int, str, Step]] = []
        for i, step in enumerate(steps):
            events.append((step.at, i, "inject", step))
            if step.duration is not None:
                events.append((step.at + step.duration, i, "heal", step))
        events.sort(key=lambda e: (e[0], 0 if e[2] == "heal" else 1, e[1]))
        for at, _, action, step in events:
            delay = t0 + at - time.monotonic()
            if delay > 0 and stop is not None:
                if stop.wait(delay):
                    return
            elif delay > 0:
                time.sleep(delay)
            if action == "inject":
                self.inject(step.fault)
            else:
                self.heal(step.fault)


def steps_from(raw: Sequence[Mapping[str, Any]]) -> list[Step]:
    """Steps from plain data: ``{"kind": ..., "at": 5, "duration": 10, "name": ..., **params}``.

    Raises:
        UsageError: a missing kind, unknown kind or bad parameter.
    """
    steps = []
    for raw_entry in raw:
        entry = dict(raw_entry)
        kind = entry.pop("kind", None)
        if not kind:
            raise UsageError(f"fault entry {entry} has no kind")
        at = float(entry.pop("at", 0))
        duration = entry.pop("duration", None)
        steps.append(
            Step(
                at,
                make_fault(str(kind), name=entry.pop("name", None), **entry),
                None if duration is None else float(duration),
            )
        )
    return steps


#: Faults a random schedule draws from by default (all heal by themselves within their duration).
RANDOM_KINDS: tuple[dict[str, Any], ...] = (
    {"kind": "broker_kill", "target": "random"},
    {"kind": "broker_pause", "target": "random"},
    {"kind": "isolate", "target": "random"},
    {"kind": "toxic", "type": "latency", "target": "random", "attributes": {"latency": 100, "jitter": 50}},
)


def random_schedule(
    seed: int,
    window: float,
    count: int,
    min_duration: float = 2.0,
    max_duration: float = 10.0,
    kinds: Sequence[Mapping[str, Any]] = RANDOM_KINDS,
    gap: float = 1.0,
) -> list[Step]:
    """``count`` faults staggered over ``window`` seconds, never overlapping, all healed before the
    window ends. The same arguments give the same schedule.

    Raises:
        UsageError: the faults cannot fit in the window.
    """
    if count < 1:
        return []
    if count * (min_duration + gap) > window:
        raise UsageError(f"{count} faults of at least {min_duration}s with {gap}s gaps do not fit in {window}s")
    rng = random.Random(seed)
    slot = window / count
    steps = []
    for i in range(count):
        duration = rng.uniform(min_duration, max(min_duration, min(max_duration, slot - gap)))
        at = i * slot + rng.uniform(0, max(0.0, slot - gap - duration))
        spec = dict(rng.choice(list(kinds)))
        kind = spec.pop("kind")
        steps.append(Step(round(at, 3), make_fault(kind, name=f"{kind}-{i}", **spec), round(duration, 3)))
    return steps
