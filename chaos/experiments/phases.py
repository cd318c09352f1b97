"""Phases as they happen: recorded in ``phases.json`` and announced as lifecycle events, with a
status ticker that reports the workloads' totals while a run is under way (``docs/phases.md``)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from chaos import rundir
from chaos.errors import InfrastructureError
from chaos.events import EventBus, PhaseEnded, PhaseStarted, Status
from chaos.workloads.totals import Totals

log = logging.getLogger(__name__)


class PhaseTimeout(InfrastructureError):
    """A phase did not finish within its budget."""


class Phases:
    """Records phases (name, start, end, ok) in ``phases.json`` as they happen, and announces them."""

    def __init__(self, run_dir: Path, bus: EventBus, label: str) -> None:
        self.path = run_dir / rundir.PHASES
        self.items: list[dict[str, object]] = []
        self.current = "start"
        self.bus = bus
        self.label = label

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.items, indent=1))

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[None]:
        """Time the block as phase ``name``; an exception marks it failed and propagates."""
        entry: dict[str, object] = {"name": name, "start": time.time(), "end": None, "ok": None}
        self.items.append(entry)
        self.current = name
        self._save()
        self.bus.emit(PhaseStarted(run=self.label, phase=name, detail=detail))
        try:
            yield
            entry["ok"] = True
        except BaseException as e:
            entry["ok"] = False
            entry["error"] = f"{type(e).__name__}: {e}"
            raise
        finally:
            entry["end"] = time.time()
            self._save()
            error = entry.get("error")
            self.bus.emit(
                PhaseEnded(
                    run=self.label, phase=name, ok=bool(entry["ok"]), error=None if error is None else str(error)
                )
            )


class StatusTicker:
    """Emits a ``status`` event (the current phase, ``totals()``, the names ``faults()`` gives of the
    active faults) on the phases' bus every ``every`` seconds while running."""

    def __init__(
        self, phases: Phases, totals: Callable[[], Totals], faults: Callable[[], Sequence[str]], every: float
    ) -> None:
        self.phases = phases
        self.totals = totals
        self.faults = faults
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking (no-op when ``every`` is 0 or it already ticks)."""
        if self.every <= 0 or self._thread is not None:
            return

        def loop() -> None:
            phases = self.phases
            while not self._stop.wait(self.every):
                try:
                    t = self.totals()
                    phases.bus.emit(
                        Status(
                            run=phases.label,
                            phase=phases.current,
                            sent=t.sent,
                            acked=t.acked,
                            errors=t.errors,
                            processed=t.processed,
                            faults=tuple(self.faults()),
                        )
                    )
                except Exception as e:  # a status line is never worth a failed run
                    log.debug("status line failed: %s", e)

        self._thread = threading.Thread(target=loop, name="kafka-chaos-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
