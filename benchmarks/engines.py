"""The same suite on one engine (``kafka-chaos run``) against two engines (``--engines``), side by
side: wall time of each, the medians and their ratio, and whether every experiment's verdict class
— which stage lost records, and whether its expectations held — is the same both ways.

The suites alternate (one, two, one, …) so drift hits both. The second engine is the one
``scripts/second-engine`` starts (``--second`` names another).

Usage: python3 benchmarks/engines.py [--runs 1] [--second URL] [PATHS...]
       (default paths: the claims p1, p3, c1, c3: short, one cluster shape)
Target: two engines ≤ 0.6 of one engine's time. Each suite's line also gives the CPU seconds the
whole machine was busy meanwhile (``/proc/stat``), and the end the floor two engines sharing this
machine's cores cannot beat.

Measured here (2 cores, 24 GiB, both engines on this machine, 2026-12-06; verdict classes the
same both ways every time): C1-C3, P1-P5, P3d, P4d, B2, B3 with --runs 2: one engine 242 s, two
150 s (medians), 0.618; the machine busy 1.66-1.71 of 2 cores on two engines, against 0.99-1.07 on
one, and the floor (one engine's CPU seconds over both cores) 0.515. Earlier the same day: 0.60,
0.615, 0.64. Both engines' brokers, workloads, drains and oracles share two cores, so the waits
overlap but the work does not (docs/engines.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared import machine_busy, side_by_side

ROOT = Path(__file__).resolve().parents[1]
SHORT = sorted(str(p) for claim in ("p1", "p3", "c1", "c3") for p in (ROOT / "experiments").glob(f"{claim}-*.yaml"))
SECOND = "unix:///run/kafka-chaos/docker2.sock"


def verdict_class(run: dict[str, object]) -> str:
    """``passed``/``failed`` and which stages lost records: what must not change with the engines."""
    loss = run.get("loss") or {}
    assert isinstance(loss, dict)
    stages = ",".join(stage for stage in ("producer", "broker", "consumer") if loss.get(stage)) or "none"
    return f"{run['status']} lost:{stages}"


def first_engine() -> str:
    """The engine ``kafka-chaos run`` uses without ``--engines``."""
    from chaos.engine import engine_address

    return engine_address()


def suite(paths: list[str], engines: list[str], reports: Path) -> tuple[float, float, dict[str, str]]:
    """Run the suite once (on ``engines`` when more than one); its wall time, the CPU seconds the
    whole machine was busy meanwhile, and its verdict classes."""
    args = [sys.executable, "-m", "chaos.cli", "run", *paths, "--reports", str(reports), "-q"]
    if len(engines) > 1:
        args += ["--engines", ",".join(engines)]
    t0, busy0 = time.monotonic(), machine_busy()
    subprocess.run(args, check=False, capture_output=True)
    seconds, busy = time.monotonic() - t0, machine_busy() - busy0
    (suite_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    data = json.loads((suite_dir / "suite.json").read_text())
    return seconds, busy, {r["name"]: verdict_class(r) for r in data["runs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="Suites of each kind (alternating).")
    parser.add_argument("--second", default=SECOND, help="The second engine's address.")
    parser.add_argument("paths", nargs="*", default=SHORT)
    args = parser.parse_args()
    kinds = {"one": [first_engine()], "two": [first_engine(), args.second]}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    busy: dict[str, list[float]] = {kind: [] for kind in kinds}
    cores = os.cpu_count() or 1
    seen: dict[str, dict[str, set[str]]] = {}
    for i in range(args.runs):
        for kind, engines in kinds.items():
            with tempfile.TemporaryDirectory() as tmp:
                seconds, cpu, classes = suite(args.paths, engines, Path(tmp))
            times[kind].append(seconds)
            busy[kind].append(cpu)
            print(
                f"{kind} engine{'s' if len(engines) > 1 else ''} #{i + 1}: {seconds / 60:5.1f} min, "
                f"{cpu:.0f} CPU s ({cpu / seconds:.2f} of {cores} cores busy)",
                flush=True,
            )
            for name, cls in classes.items():
                seen.setdefault(name, {}).setdefault(kind, set()).add(cls)
    one, two = statistics.median(times["one"]), statistics.median(times["two"])
    print(f"median: one engine {one:.0f} s, two engines {two:.0f} s, two/one {two / one:.3f}")
    # Engines on one machine share its cores: two can take no less than the CPU one engine's suite
    # used spread over every core, nor than half its time (each engine runs half the suite).
    floor = max(statistics.median(busy["one"]) / cores, one / 2)
    print(f"floor on this machine's {cores} cores: {floor:.0f} s, {floor / one:.3f} of one engine")
    side_by_side(seen, "one", "two")


if __name__ == "__main__":
    main()
