"""A synthetic run directory with everything the reporters read: ledgers of two producers with
known broker loss, a timeline with fault windows, phases, expectations and the verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path

from chaos.oracle import reconcile_and_write
from chaos.oracle.synthetic import write_large


def make_run(run_dir: Path, expect: dict[str, object], name: str = "demo") -> None:
    write_large(run_dir, 20_000, producers=2, partitions=3, loss_every=1000)
    meta = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    meta.update({"experiment": name, "claim": "B2", "expected": "broker loss > 0", "run_id": "r1"})
    (run_dir / "run.json").write_text(json.dumps(meta))
    (run_dir / "expectations.json").write_text(json.dumps(expect))
    now = time.time()
    (run_dir / "timeline.jsonl").write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {"t": now + 1, "event": "inject", "fault": "kill-0", "kind": "broker_kill", "targets": ["broker-2"]},
                {"t": now + 4, "event": "heal", "fault": "kill-0", "kind": "broker_kill"},
                {"t": now + 5, "event": "inject", "fault": "cut", "kind": "isolate", "targets": ["broker-1"]},
            ]
        )
        + "\n"
    )
    phases = [
        {"name": n, "start": now + i, "end": now + i + 1, "ok": True} for i, n in enumerate(["cluster", "faults"])
    ]
    (run_dir / "phases.json").write_text(json.dumps(phases))
    (run_dir / "experiment.yaml").write_text("name: demo\nproducer: {mode: async, settings: {acks: '1'}}\n")
    reconcile_and_write(run_dir)
