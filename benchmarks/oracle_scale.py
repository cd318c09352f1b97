"""Oracle time and peak memory on large synthetic runs (1M and 10M records, from one producer and
from four, by default).

Each shape is written once with numpy, then reconciled in a fresh process (so its peak RSS is the
oracle's alone) several times; prints the median time and the peak memory.

Usage: python3 benchmarks/oracle_scale.py [--sizes 1000000 10000000] [--producers 1 4] [--repeat 3]
                                         [--compare-with DIR]
Targets: <= 2 s at 1M; <= 15 s and <= 1 GiB at 10M; for one producer and for four; <= 2 min and
<= 4 GiB at 100M.

Latest (2026-12-06 evening, docs/results.md): 100M records, side by side with --compare-with a
checkout of the code before the bitmaps' one slot width, reused ledger buffers and the log placed by
a radix argsort, three runs each: 4 producers 81.6 s against 118.3 s, 1 producer 84.5 s against
115.9 s, peak 3,820 MiB.

Measured 2026-12-06 on the 2-core, 24 GiB development machine (docs/results.md has the rows): at
100M records, one producer, one run, the peak went from 5,917 MiB to 3,821 MiB (within 4 GiB) and
the time from 103 s to 148 s, the latter measured while another Docker suite shared the machine for
part of the run (writing the files took 235 s instead of 60), so not comparable; a quiet re-run is
still owed. At 10M, median of 3 (1 / 4 producers): 7.47 / 7.90 s and 703 / 703 MiB before,
11.34 / 10.82 s and 600 / 582 MiB after, on a machine that had become slower in between; the code
before, run right after, 1 producer: 8.94 s and 702 MiB, so the change costs about 1.27x in time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaos.oracle.synthetic import write_large

CHILD = """
import json, re, sys, time
from pathlib import Path
from chaos.oracle import reconcile
t0 = time.perf_counter()
v = reconcile(Path(sys.argv[1]))
elapsed = time.perf_counter() - t0
# VmHWM: this process's own peak (ru_maxrss would carry the parent's size over fork and exec)
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": elapsed, "peak_mib": hwm / 1024,
                  "sent": v.counts.sent, "broker_loss": v.figures.broker}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--producers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="Where to write the synthetic runs (default: a temp dir).")
    parser.add_argument(
        "--compare-with",
        default=None,
        metavar="DIR",
        help="A checkout of other code (git worktree add DIR COMMIT): each run alternates with one of its oracle "
        "on the same files, side by side.",
    )
    args = parser.parse_args()
    baseline = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, resource; import chaos.oracle;"
                "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(f"interpreter + imports alone: {baseline:.0f} MiB")
    for producers in args.producers:
        for size in args.sizes:
            measure(size, producers, args.repeat, args.dir, args.compare_with)


def measure(size: int, producers: int, repeat: int, where: str | None, compare: str | None = None) -> None:
    """Write one synthetic run and reconcile it ``repeat`` times, each in a fresh process."""
    root = Path(tempfile.mkdtemp(dir=where, prefix="oracle-bench-"))
    try:
        t0 = time.perf_counter()
        write_large(root, size, producers=producers)
        written = time.perf_counter() - t0
        disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
        runs, other = [], []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout))
            if compare:
                argv = [sys.executable, "-c", CHILD, str(root)]
                env = {**os.environ, "PYTHONPATH": str(Path(compare).resolve())}
                done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env, cwd=compare)
                other.append(json.loads(done.stdout))
        if other:
            assert all((r["sent"], r["broker_loss"]) == (runs[0]["sent"], runs[0]["broker_loss"]) for r in other)
            before = statistics.median(r["seconds"] for r in other)
            print(
                f"{size:>11,} records, {producers} producer(s), the code in {compare}: median {before:6.2f}s, "
                f"peak {max(r['peak_mib'] for r in other):6.0f} MiB; each run: "
                + ", ".join(f"{a['seconds']:.1f}/{b['seconds']:.1f}s" for a, b in zip(runs, other, strict=True)),
                flush=True,
            )
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        sent = size - size % producers
        expected_loss = producers * -(-(size // producers) // 1000)
        assert runs[0]["sent"] == sent and runs[0]["broker_loss"] == expected_loss, runs[0]
        print(
            f"{size:>11,} records, {producers} producer(s): oracle median {seconds:6.2f}s over {repeat}, "
            f"peak {peak:6.0f} MiB (files {disk:.0f} MiB, written in {written:.1f}s, "
            f"{size / seconds / 1e6:.2f} M records/s)",
            flush=True,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
