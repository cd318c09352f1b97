"""A soak's live watch (docs/soak.md): every window, what the ledgers gained, the faults that acted,
the consumers' lag and each broker's memory, as a line of ``soak/windows.jsonl`` and a line for the
person watching.

It holds nothing of a window once its line is written: the ledgers are counted incrementally
(:class:`chaos.workloads.tally.LedgerTally`), so a night's soak watches in the memory of a minute's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, TypedDict

from chaos.workloads.tally import Tally

log = logging.getLogger(__name__)

#: How often the active faults are sampled within a window, in seconds.
SAMPLE_S = 1.0


class WindowLine(TypedDict):
    """One line of ``soak/windows.jsonl`` (docs/soak.md)."""

    window: int
    start_ms: int
    end_ms: int
    sent: int
    acked: int
    unconfirmed: int
    errors: int
    processed: int
    acked_per_s: float
    ack_ms_p50: float | None
    ack_ms_p99: float | None
    lag: int | None
    faults: list[str]
    memory_mib: dict[str, float]
    #: Cores used on average over the window by ``brokers``, ``workloads`` and ``harness``.
    cores: dict[str, float]


class Resources(NamedTuple):
    """One look at what the run uses: each broker's memory now (MiB), and the CPU time so far, in
    seconds, of the brokers, the workloads and the harness (each a total that keeps growing)."""

    memory_mib: dict[str, float]
    cpu_s: dict[str, float]


class SoakWatch:
    """Writes one line per ``window`` s to ``out`` while started, and a last one, of what is left of
    the window, on :meth:`stop`.

    ``tally()`` gives what the ledgers gained since its last call, ``faults()`` the names of the
    faults acting now, ``resources()`` each broker's memory and the CPU time used so far by the
    brokers, the workloads and the harness, and ``say`` takes the line for the person watching.
    ``closed(window, end)`` is told of each window written, on the watch's thread (a soak's judge
    marks its windows' bounds there, :mod:`chaos.experiments.soak_judge`).
    """

    def __init__(
        self,
        window: float,
        out: Path,
        tally: Callable[[], Tally],
        faults: Callable[[], Sequence[str]],
        resources: Callable[[], Resources],
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        sample: float = SAMPLE_S,
        closed: Callable[[int, float], None] | None = None,
    ) -> None:
        self.window = window
        self.closed = closed
        self.out = out
        self.tally = tally
        self.faults = faults
        self.resources = resources
        self.say = say
        self.clock = clock
        self.sample = sample
        self.windows = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: list[str] = []
        self._origin = self._start = 0.0
        self._cpu: dict[str, float] = {}
        self._cpu_at = 0.0

    def start(self) -> None:
        """Count what the ledgers hold so far as before the soak, and start watching."""
        if self._thread is not None:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tally()  # what came before the first window (warmup) is not the first window's
        self._origin = self._start = self.clock()
        self._cpu, self._cpu_at = self._look().cpu_s, self._start
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kafka-chaos-soak", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Have the watch write the last (partial) window, and wait ``timeout`` s for it. Only the
        watch's thread writes windows, so a slow look (Docker's stats) is never raced: a window
        written late still covers its own span."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            log.warning("soak watch: the last window is still being written after %g s", timeout)
        self._thread = None

    def _loop(self) -> None:
        # Window k ends at origin + k * window, whatever each look took: windows stay on the periods.
        while True:
            deadline = self._origin + (self.windows + 1) * self.window
            stopping = self._stop.wait(max(0.0, min(self.sample, deadline - self.clock())))
            try:
                for name in self.faults():
                    if name not in self._seen:
                        self._seen.append(name)
                if stopping:
                    self._close_window(self.clock())
                    return
                if self.clock() >= deadline:
                    self._close_window(deadline)
            except Exception as e:  # a watch's line is never worth a failed run
                log.warning("soak window %d: %s", self.windows + 1, e)
                if stopping or self._stop.wait(self.sample):  # a look that keeps failing: not in a busy loop
                    return

    def _look(self) -> Resources:
        try:
            return self.resources()
        except Exception as e:  # evidence, never a reason to stop
            log.debug("soak watch resources: %s", e)
            return Resources({}, {})

    def _close_window(self, end: float) -> None:
        start = self._start
        if end <= start:
            return
        t = self.tally()
        look = self._look()
        self.windows += 1
        seconds = max(end - start, 1e-3)
        cores: dict[str, float] = {}
        if look.cpu_s:  # since the last look that said (a failed one says nothing, and is not a zero)
            since = max(end - self._cpu_at, 1e-3)
            cores = {part: round((used - self._cpu.get(part, 0.0)) / since, 2) for part, used in look.cpu_s.items()}
            self._cpu, self._cpu_at = look.cpu_s, end
        line: WindowLine = {
            "window": self.windows,
            "start_ms": int(start * 1000),
            "end_ms": int(end * 1000),
            "sent": t.sent,
            "acked": t.acked,
            "unconfirmed": t.unconfirmed,
            "errors": t.errors,
            "processed": t.processed,
            "acked_per_s": round(t.acked / seconds, 1),
            "ack_ms_p50": t.ack_ms_p50,
            "ack_ms_p99": t.ack_ms_p99,
            "lag": t.lag,
            "faults": list(self._seen),
            "memory_mib": look.memory_mib,
            "cores": cores,
        }
        with self.out.open("a") as f:
            f.write(json.dumps(line) + "\n")
        self._seen = list(self.faults())  # still acting: the next window's too
        self._start = end
        if self.closed is not None:
            self.closed(self.windows, end)
        self.say(describe(line))


def describe(line: WindowLine) -> str:
    """A window's line for the person watching.

    >>> describe({"window": 3, "start_ms": 0, "end_ms": 30_000, "sent": 1200, "acked": 1190, "unconfirmed": 0,
    ...           "errors": 0, "processed": 1180, "acked_per_s": 39.7, "ack_ms_p50": 3.0, "ack_ms_p99": 12.0,
    ...           "lag": None, "faults": ["k-2"], "memory_mib": {"b": 411.2}, "cores": {"brokers": 0.8}})
    'soak window 3: 1,200 sent, 1,190 acked (39.7/s), ack p99 12 ms, faults: k-2, brokers 411 MiB, cores brokers 0.8'
    """
    parts = [f"soak window {line['window']}: {line['sent']:,} sent, {line['acked']:,} acked ({line['acked_per_s']}/s)"]
    if line.get("ack_ms_p99") is not None:
        parts.append(f"ack p99 {line['ack_ms_p99']:g} ms")
    if line.get("lag") is not None:
        parts.append(f"lag {line['lag']:,}")
    parts.append(f"faults: {', '.join(line['faults'])}" if line["faults"] else "no fault")
    if line["memory_mib"]:
        parts.append(f"brokers {max(line['memory_mib'].values()):.0f} MiB")
    if line["cores"]:
        parts.append("cores " + " ".join(f"{part} {n:g}" for part, n in line["cores"].items()))
    return ", ".join(parts)
