"""A synthetic run directory with everything the reporters read: ledgers of two producers with
known broker loss, a timeline with fault windows, phases, expectations and the verdict."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.oracle import reconcile_and_write
from chaos.oracle.synthetic import write_large
from chaos.results import RunResult, SuiteResult


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


#: The repetitions of a :func:`synthetic_suite` run: (experiment, repetition, seed) in order.
Calls = list[tuple[str, int, int]]


def synthetic_suite(
    monkeypatch: pytest.MonkeyPatch,
    where: Path,
    name: str,
    repeat: int,
    expect: Callable[[int], dict[str, object]] = lambda repetition: {"broker_loss": ">0"},
    seed: int = 0,
) -> tuple[SuiteResult, Calls]:
    """A real suite of one experiment (``where/e.yaml``, reports under ``where/r``) repeated
    ``repeat`` times, each run a :func:`make_run` directory expecting ``expect(repetition)``, so the
    suite's reports and ``suite.json`` are written by the harness without a cluster."""
    from chaos.experiments.loading import LoadedExperiment, load_experiment
    from chaos.experiments.runner import ExperimentRun, RunOptions, run_suite
    from chaos.oracle import reconcile
    from chaos.reports import write_run_reports

    calls: Calls = []

    def fake_run(self: ExperimentRun) -> RunResult:
        calls.append((self.exp.name, self.repetition, self.options.seed))
        make_run(self.run_dir, expect(self.repetition), self.exp.name)
        self.result.verdict = reconcile(self.run_dir, self.exp.name)
        write_run_reports(self.run_dir)
        return self.result

    monkeypatch.setattr(ExperimentRun, "run", fake_run)
    path = where / "e.yaml"
    path.write_text(f"name: {name}\nproducer: {{rate: 10}}\nfaults: [{{kind: broker_kill, at: 1, duration: 1}}]\n")
    options = RunOptions(reports_dir=where / "r", seed=seed)
    return run_suite([LoadedExperiment(path, load_experiment(path))], options, repeat=repeat), calls
