"""A synthetic run directory with everything the reporters read: ledgers of two producers with
known broker loss, a timeline with fault windows, phases, expectations and the verdict; and runs of
a suite over Kafka releases, as the runner records them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.oracle import reconcile_and_write
from chaos.oracle.files import read_verdict
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


def release_run(
    run_dir: Path,
    name: str,
    client: str,
    release: str,
    expect: dict[str, object] | None = None,
    *,
    claim: str = "B2",
    not_applicable: str | None = None,
    known_bug: dict[str, object] | None = None,
    facts: dict[str, object] | None = None,
) -> None:
    """A run of a suite over releases, as the runner leaves it: ``run.json`` with the row's label
    (``<name>.<client>@<release>``), the Kafka release, the clients' releases (the Java client's is
    the cluster's), ``known_bug`` and ``release`` (``facts``). A row that did not apply has
    ``run.json`` and ``experiment.yaml`` only; any other is a :func:`make_run` expecting ``expect``."""
    versions = {"kafka-clients": release} if client == "java" else {"kafka-python": "3.0.12"}
    meta: dict[str, object] = {
        "experiment": name,
        "claim": claim,
        "client": client,
        "label": f"{name}.{client}@{release}",
        "kafka_version": release,
        "client_versions": versions,
        "known_bug": known_bug,
        "run_id": "r1",
    }
    if not_applicable is not None:
        run_dir.mkdir(parents=True)
        (run_dir / "run.json").write_text(json.dumps({**meta, "not_applicable": not_applicable}))
        (run_dir / "experiment.yaml").write_text(f"name: {name}\n")
        return
    make_run(run_dir, expect or {}, name)
    written = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**written, **meta, **({"release": facts} if facts else {})}))


#: Why elr does not apply to 3.9.1 (as the runner words it).
NA = "not applicable on Kafka 3.9.1: needs 4.0.0 or newer (eligible leader replicas)"
#: A known bug of the Java client, fixed on two lines.
BUG: dict[str, object] = {
    "id": "KAFKA-19012",
    "title": "a lost batch",
    "side": "client",
    "fixed_in": ["3.9.1", "4.0.1"],
}
#: What ``release`` in run.json says of each release (as the runner records it).
FACTS: dict[str, dict[str, object]] = {
    "3.9.1": {
        "features": {"metadata.version": 21, "transaction.version": 0, "group.version": 0},
        "group_protocols": ["classic"],
        "defaults": [
            {"kind": "producer", "key": "linger.ms", "value": "0", "release": "3.9.1"},
            {"kind": "topic", "key": "min.insync.replicas", "value": "1", "release": "3.9.1"},
        ],
    },
    "4.4.0": {
        "features": {
            "metadata.version": 27,
            "transaction.version": 2,
            "group.version": 1,
            "eligible.leader.replicas.version": 1,
        },
        "group_protocols": ["classic", "consumer"],
        "defaults": [
            {"kind": "producer", "key": "linger.ms", "value": "5", "release": "4.4.0"},
            {"kind": "topic", "key": "min.insync.replicas", "value": "1", "release": "4.4.0"},
        ],
    },
}


def two_by_two(suite_dir: Path) -> None:
    """b2 and elr on kafka-python and java, each on 3.9.1 and 4.4.0, in the order ``--client all
    --kafka-version 3.9.1,4.4.0`` runs them; b2 fails on java@3.9.1, elr needs 4.0.0. Its
    ``suite.json`` and every report are written as ``kafka-chaos report`` writes them."""
    from chaos.cli import main
    from chaos.reports import write_suite_json

    results = []
    for name in ("b2", "elr"):
        for client in ("kafka-python", "java"):
            for release in ("3.9.1", "4.4.0"):
                run_dir = suite_dir / f"{name}.{client}@{release}"
                na = NA if name == "elr" and release == "3.9.1" else None
                fails = (name, client, release) == ("b2", "java", "3.9.1")
                expect: dict[str, object] = {"broker_loss": 0 if fails else ">0"}
                claim = "B2" if name == "b2" else "B6c"
                release_run(
                    run_dir, name, client, release, expect, claim=claim, not_applicable=na, facts=FACTS[release]
                )
                verdict = None if na else read_verdict(run_dir)
                results.append(RunResult(name, None, run_dir, "r1", verdict=verdict, not_applicable=na))
    write_suite_json(SuiteResult(suite_dir, results, 60.0))
    main(["report", str(suite_dir)])  # returns (no SystemExit) on success
