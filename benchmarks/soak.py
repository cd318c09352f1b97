"""A soak and what it cost: ``kafka-chaos soak`` run as a person would, with the harness process's
peak resident memory (its ``VmHWM``: the harness alone, not its workload processes or the brokers),
its run directory's size on disk against the need it announced, and its windows' figures.

Usage: python3 benchmarks/soak.py FILE [soak options...]
  e.g. python3 benchmarks/soak.py experiments/b2-acks1-leader-kill-lagging-followers.yaml --duration 30m --every 30s
       python3 benchmarks/soak.py experiments/b3-acks-all-min-isr-2-leader-kill-isolation.yaml \\
           --duration 30m --every 30s --schedule draw --hold 10s
Targets (issue: a night, not a minute): peak RSS of the harness ≤ 1 GiB, disk within the need said
up front, the lossy soak's loss seen in most windows with faults, the safe soak's in none.

Measured here: see docs/results.md ("Soaks").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _hwm_kib(pid: int) -> int:
    """The process's peak resident set so far in KiB (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    reports = Path(tempfile.mkdtemp(prefix="kc-soak-"))
    command = [sys.executable, "-m", "chaos.cli", "soak", *argv, "--reports", str(reports)]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def watch() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _hwm_kib(proc.pid))
            time.sleep(1.0)

    sampler = threading.Thread(target=watch, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    seconds = time.monotonic() - started
    need = next((line.split("a soak of ", 1)[1] for line in err.splitlines() if "a soak of " in line), "?")
    runs = [p.parent for p in reports.glob("*/*/run.json")]
    print(out.rstrip())
    print(f"exit {proc.returncode} in {seconds / 60:.1f} min; harness peak RSS {peak[0] / 1024:.0f} MiB")
    print(f"said up front: {need}")
    for run in runs:
        print(f"run directory {run}: {_size(run) / 2**20:.0f} MiB on disk")
        summary_path = run / "soak" / "soak.json"
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            windows = summary["windows"]
            sent = sum(w["sent"] for w in windows)
            print(
                f"windows {len(windows)}, records sent in them {sent:,}, acked/s median "
                f"{sorted(w['acked_per_s'] for w in windows)[len(windows) // 2]:,}"
            )
    if proc.returncode not in (0, 1):
        print(err[-3000:], file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
