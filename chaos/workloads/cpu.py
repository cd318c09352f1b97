"""CPU time of this machine's processes, read from ``/proc`` (the harness runs on Linux only): what
a soak's watch (:mod:`chaos.experiments.soak_watch`) reports as the cores the workloads and the
harness used, beside the brokers' (Docker's stats). Ten lines of ``/proc`` parsing rather than a
dependency (psutil) for them."""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _seconds(pid: str) -> float:
    """utime + stime of process ``pid`` in seconds (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[-1].split()  # after the command's name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK


def processes_cpu(marker: str) -> dict[str, float]:
    """CPU seconds used so far by each running process whose command line holds ``marker`` (a
    run's ``workloads/`` directory: every workload's spec is there), by pid."""
    found: dict[str, float] = {}
    wanted = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if wanted in cmdline:
            found[entry.name] = _seconds(entry.name)
    return found


class Accrued:
    """A total of counters that restart: each key's growth since its last look is added, and a key
    whose counter went down (a process or container started again) adds what it counts now.

    >>> a = Accrued()
    >>> a.add({"p1": 2.0}), a.add({"p1": 5.0, "p2": 1.0}), a.add({"p1": 0.5})
    (2.0, 6.0, 6.5)
    """

    def __init__(self) -> None:
        self.total = 0.0
        self._last: dict[str, float] = {}

    def add(self, counters: dict[str, float]) -> float:
        """Take a look at ``counters``; returns the total so far."""
        for key, value in counters.items():
            last = self._last.get(key, 0.0)
            self.total += value - last if value >= last else value
        self._last = dict(counters)
        return self.total


def own_cpu() -> float:
    """CPU seconds this process (the harness) used so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
