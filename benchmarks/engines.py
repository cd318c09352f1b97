"""The same suite on one engine (``kafka-chaos run``) against two engines (``--engines``), side by
side: wall time of each, the medians and their ratio, and whether every experiment's verdict class
— which stage lost records, and whether its expectations held — is the same both ways.

The suites alternate (one, two, one, …) so drift hits both. The second engine is the one
``scripts/second-engine`` starts (``--second`` names another).

Usage: python3 benchmarks/engines.py [--runs 1] [--second URL] [PATHS...]
       (default paths: the claims p1, p3, c1, c3: short, one cluster shape)
Target: two engines ≤ 0.6 of one engine's time.

Measured here (2 cores, 24 GiB, both engines on this machine, 2026-12-06, --runs 1; verdict classes
the same both ways every time): the default four claims (other tests ran meanwhile) one engine
1.4 min, two 1.0 min, 0.75; P1-P4, P3d, P4d, C1, C2 (quiet) 2.2 min and 1.3 min, 0.61; C1-C3,
P1-P5, P3d, P4d, B2, B3 (quiet, three cluster shapes) 4.0 min and 2.6 min, 0.64; the same twelve
with the longest runs first within a shape, twice: 0.60 (4.1 / 2.4 min) and 0.615 (243 / 150 s). On one engine a
shape's runs share one cluster (one start, then resets); on two each engine starts its own, and
both engines' brokers, workloads, drains and oracles share two cores, so the waits overlap but the
work does not (docs/engines.md).
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

from shared import side_by_side

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


def suite(paths: list[str], engines: list[str], reports: Path) -> tuple[float, dict[str, str]]:
    """Run the suite once (on ``engines`` when more than one); its wall time and verdict classes."""
    args = [sys.executable, "-m", "chaos.cli", "run", *paths, "--reports", str(reports), "-q"]
    if len(engines) > 1:
        args += ["--engines", ",".join(engines)]
    t0 = time.monotonic()
    subprocess.run(args, check=False, capture_output=True)
    seconds = time.monotonic() - t0
    (suite_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    data = json.loads((suite_dir / "suite.json").read_text())
    return seconds, {r["name"]: verdict_class(r) for r in data["runs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="Suites of each kind (alternating).")
    parser.add_argument("--second", default=SECOND, help="The second engine's address.")
    parser.add_argument("paths", nargs="*", default=SHORT)
    args = parser.parse_args()
    kinds = {"one": [first_engine()], "two": [first_engine(), args.second]}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    seen: dict[str, dict[str, set[str]]] = {}
    for i in range(args.runs):
        for kind, engines in kinds.items():
            with tempfile.TemporaryDirectory() as tmp:
                seconds, classes = suite(args.paths, engines, Path(tmp))
            times[kind].append(seconds)
            print(f"{kind} engine{'s' if len(engines) > 1 else ''} #{i + 1}: {seconds / 60:5.1f} min", flush=True)
            for name, cls in classes.items():
                seen.setdefault(name, {}).setdefault(kind, set()).add(cls)
    one, two = statistics.median(times["one"]), statistics.median(times["two"])
    print(f"median: one engine {one:.0f} s, two engines {two:.0f} s, two/one {two / one:.3f}")
    side_by_side(seen, "one", "two")


if __name__ == "__main__":
    main()
