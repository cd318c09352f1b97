"""The claims suite with one cluster per shape (reset between runs) against a cluster per run
(``--fresh-cluster``), side by side: wall time of each, and whether every experiment's verdict
class — which stage lost records, and whether its expectations held — is the same both ways.

The suites alternate (reuse, fresh, reuse, …) so drift hits both; prints each suite's wall time,
the medians, their ratio, and every experiment whose verdict class differed.

Usage: python3 benchmarks/suite_reuse.py [--runs 1] [PATHS...]
       (default paths: the 13 claims b1-b5, c1-c3, p1-p5)
Target: reuse ≤ 6 min here, verdict classes equal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from shared import side_by_side

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = sorted(
    str(p) for pattern in ("b[1-5]-*.yaml", "c*.yaml", "p*.yaml") for p in (ROOT / "experiments").glob(pattern)
)


def verdict_class(run: dict[str, Any]) -> str:
    """``passed``/``failed`` and which stages lost records: what must not change with reuse."""
    loss = run.get("loss") or {}
    stages = ",".join(stage for stage in ("producer", "broker", "consumer") if loss.get(stage)) or "none"
    return f"{run['status']} lost:{stages}"


def suite(paths: list[str], fresh: bool, reports: Path) -> tuple[float, dict[str, str], dict[str, str]]:
    """Run the suite once; its wall time, each experiment's verdict class and how it got its cluster."""
    args = [sys.executable, "-m", "chaos.cli", "run", *paths, "--reports", str(reports), "-q"]
    t0 = time.monotonic()
    subprocess.run([*args, *(["--fresh-cluster"] if fresh else [])], check=False, capture_output=True)
    seconds = time.monotonic() - t0
    (suite_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    data = json.loads((suite_dir / "suite.json").read_text())
    classes = {r["name"]: verdict_class(r) for r in data["runs"]}
    clusters = {r["name"]: r.get("cluster", "") for r in data["runs"]}
    return seconds, classes, clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="Suites of each kind (alternating).")
    parser.add_argument("paths", nargs="*", default=CLAIMS)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"reuse": [], "fresh": []}
    seen: dict[str, dict[str, set[str]]] = {}
    for i in range(args.runs):
        for kind in ("reuse", "fresh"):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, classes, clusters = suite(args.paths, kind == "fresh", Path(tmp))
            times[kind].append(seconds)
            reused = sum(c == "reused" for c in clusters.values())
            print(f"{kind:5} #{i + 1}: {seconds / 60:5.1f} min, {reused} runs on a reused cluster", flush=True)
            for name, cls in classes.items():
                seen.setdefault(name, {}).setdefault(kind, set()).add(cls)
    reuse, fresh = statistics.median(times["reuse"]), statistics.median(times["fresh"])
    print(f"median: reuse {reuse / 60:.1f} min, fresh {fresh / 60:.1f} min, reuse/fresh {reuse / fresh:.2f}")
    side_by_side(seen, "reuse", "fresh")


if __name__ == "__main__":
    main()
