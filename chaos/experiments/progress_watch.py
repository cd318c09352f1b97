"""Watching each broker's leader epochs and high watermarks while faults act and heal: every look
appends one line per (broker, partition) to ``watch/progress.jsonl``, from which the oracle checks
that both only move forward (``epoch_regression``, ``hw_regression`` in
:mod:`chaos.oracle.anomalies`)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

from chaos.watched import BrokerView

log = logging.getLogger(__name__)

#: Seconds between two looks.
INTERVAL_S = 1.0


def line(s: BrokerView) -> str:
    """``s`` as one line of ``watch/progress.jsonl`` (docs/run-directory.md)."""
    return json.dumps(asdict(s), separators=(",", ":")) + "\n"


class ProgressWatch:
    """A thread that looks every :data:`INTERVAL_S` until stopped and appends what it saw to ``path``.

    ``look`` asks every running broker for its own view of the topic now (it may raise: no broker
    answered mid-fault, and that look is skipped); each look's samples are appended and flushed at
    once, so a harness killed mid-run leaves at most one torn last line.
    """

    def __init__(self, look: Callable[[], Sequence[BrokerView]], path: Path, interval: float = INTERVAL_S) -> None:
        self.look = look
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self.looks = 0

    def sample(self) -> None:
        """Look once and append the samples (a look that raises is skipped, logged at debug level).

        Raises:
            OSError: the file cannot be written.
        """
        try:
            samples = self.look()
        except Exception as e:  # a broker down mid-fault is expected here: look again next time
            log.debug("progress look failed: %s", e)
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write("".join(line(s) for s in samples))
        self._file.flush()
        self.looks += 1

    def start(self) -> None:
        """Start looking (no-op if already started)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.sample()
                except OSError as e:  # the run directory went away: nothing more to write to
                    log.warning("progress watch stops: %s", e)
                    return
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, name="kafka-chaos-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take a last look and stop (no-op if not started, or stopped already)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # a look hung past every timeout: leave the file to it
            log.warning("progress watch did not stop within 30 s")
            return
        self._thread = None
        try:
            self.sample()
        except OSError as e:
            log.warning("progress watch's last look not written: %s", e)
        if self._file is not None:
            self._file.close()
            self._file = None
