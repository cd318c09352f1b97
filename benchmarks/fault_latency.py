"""Inject and heal latency per fault type on a 3-broker cluster (median of N each).

Latency is the time the fault's ``inject()`` / ``heal()`` took to apply it (docker exec of iptables
or tc in the broker namespaces, toxiproxy API calls, Docker kill/pause) — not the time Kafka takes to
react, and not the effect check that follows injection (reported separately as "verify").
Broker kill/stop are healed by restarting the JVM, so their heal time includes the container start,
not Kafka's recovery; the cluster is waited healthy between samples, outside the timing.

Usage: python3 benchmarks/fault_latency.py [--runs 5]     Target: <= 250 ms.
"""

from __future__ import annotations

import statistics
from typing import Any

from shared import parser, three_brokers

from chaos.faults import FaultContext, Timeline, make_fault

FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("broker_kill", {"target": "broker:3"}),
    ("broker_stop", {"target": "broker:3"}),
    ("broker_pause", {"target": "broker:3"}),
    ("isolate", {"target": "broker:3"}),
    ("partition", {"target": "minority"}),
    ("one_way", {"source": "broker:1", "dest": "broker:2"}),
    ("bridge", {"target": "broker:2"}),
    ("packet_drop", {"target": "broker:3", "probability": 0.3}),
    ("bandwidth_limit", {"target": "broker:3", "rate": "1mbit"}),
    ("toxic", {"type": "latency", "target": "all", "attributes": {"latency": 100, "jitter": 20}}),
    ("toxic", {"type": "timeout", "target": "all"}),
    ("toxic", {"type": "reset_peer", "target": "all"}),
    ("toxic", {"type": "bandwidth", "target": "all", "attributes": {"rate": 100}}),
    ("toxic", {"type": "slow_close", "target": "all"}),
    ("proxy_down", {"target": "all"}),
]


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args()
    rows = []
    with three_brokers() as (cluster, tmp):
        timeline = Timeline(tmp)
        ctx = FaultContext(cluster, timeline=timeline)
        for kind, params in FAULTS:
            label = kind + (f":{params['type']}" if kind == "toxic" else "")
            inject, heal, verify = [], [], []
            for _ in range(args.runs):
                fault = make_fault(kind, **params)
                inject.append(fault.inject(ctx))
                verify.append(next(e["latency_ms"] for e in reversed(timeline.events()) if e["event"] == "verified"))
                heal.append(fault.heal(ctx))
                cluster.wait_healthy(180)
            rows.append((label, statistics.median(inject), statistics.median(heal), statistics.median(verify)))
            print(
                f"{label:24} inject {rows[-1][1]:7.1f} ms   heal {rows[-1][2]:7.1f} ms   verify {rows[-1][3]:7.1f} ms",
                flush=True,
            )
    worst = max(max(r[1], r[2]) for r in rows)
    print(f"\nmedian of {args.runs} per fault; worst median {worst:.0f} ms (target <= 250 ms)")


if __name__ == "__main__":
    main()
