"""Oracle time and peak memory on large synthetic runs (1M and 10M records by default).

Each size is written once with numpy, then reconciled in a fresh process (so its peak RSS is the
oracle's alone) several times; prints the median time and the peak memory.

Usage: python3 benchmarks/oracle_scale.py [--sizes 1000000 10000000] [--repeat 3] [--dir /tmp]
Targets: <= 5 s at 1M, <= 60 s and <= 1 GiB at 10M.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaos.oracle.synthetic import write_large

CHILD = """
import json, resource, sys, time
from pathlib import Path
from chaos.oracle import reconcile
t0 = time.perf_counter()
v = reconcile(Path(sys.argv[1]))
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sent": v.counts["sent"], "broker_loss": v.loss["broker"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="Where to write the synthetic runs (default: a temp dir).")
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
    for size in args.sizes:
        root = Path(tempfile.mkdtemp(dir=args.dir, prefix="oracle-bench-"))
        try:
            t0 = time.perf_counter()
            write_large(root, size)
            written = time.perf_counter() - t0
            disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True
                )
                runs.append(json.loads(out.stdout))
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            expected_loss = 4 * -(-(size // 4) // 1000)
            assert runs[0]["sent"] == size - size % 4 and runs[0]["broker_loss"] == expected_loss, runs[0]
            print(
                f"{size:>11,} records: oracle median {seconds:6.2f}s over {args.repeat}, peak {peak:6.0f} MiB "
                f"(files {disk:.0f} MiB, written in {written:.1f}s, {size / seconds / 1e6:.2f} M records/s)"
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
