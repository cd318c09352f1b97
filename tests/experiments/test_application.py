"""The team's application as a black box, end to end on a real cluster: a small relay program
(``tests/fixtures/apps/relay.py``, configured by its environment only) fed input in its own shape,
killed mid-flight, its output correlated through a JSON path and judged.

The Java example applications (Kafka Streams, a worker pool, a consumer that resets to latest) run as
claims rows A1 to A4 in ``experiments/`` (``scripts/setup``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.oracle import Verdict

RELAY = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "relay.py"

pytestmark = pytest.mark.experiment

EXPERIMENT = """\
name: {name}
producer: {{mode: async, rate: 300, settings: {{acks: all}}}}
application:
  command: [{python}, {relay}]
  env:
    BOOTSTRAP_SERVERS: "${{bootstrap}}"
    INPUT_TOPIC: "${{input_topic}}"
    OUTPUT_TOPIC: "${{output_topic}}"
    GROUP_ID: "${{group}}"
    COMMIT_FIRST: "{commit_first}"
  input: {{value: {{order: "${{id}}", amount: "${{seq}}"}}, key: "customer-${{slot}}", slots: 4}}
  output: {{correlate: {{json: input.order}}}}
faults:
  - {{kind: client_kill, workload: application-0, at: 3, duration: 2}}
phases: {{warmup: 2, settle: 2}}
expect: {{consumer_loss: "{loss}", producer_loss: 0, broker_loss: 0}}
"""


def write(tmp_path: Path, name: str, commit_first: bool) -> Path:
    import sys

    path = tmp_path / f"{name}.yaml"
    text = EXPERIMENT.format(
        name=name,
        python=sys.executable,
        relay=RELAY,
        commit_first=int(commit_first),
        loss=">0" if commit_first else "0",
    )
    path.write_text(text)
    return path


def test_an_application_committing_before_it_writes_loses_what_a_kill_caught_in_between(
    run_experiment: Callable[..., Verdict], tmp_path: Path
) -> None:
    v = run_experiment(write(tmp_path, "relay-commit-first", commit_first=True))
    app = v.application
    assert app is not None and v.conclusive
    # every input reached the log; those without an output are exactly the application's loss
    assert app.without_output_not_in_log == 0
    assert v.loss.consumer is not None and v.loss.consumer > 0
    assert app.without_output_in_log == v.loss.consumer
    assert app.inputs_with_output + app.without_output_in_log == v.counts.sent
    assert app.uncorrelated == 0 and app.outputs >= app.inputs_with_output
    workloads = v.details.workloads or {}
    assert workloads["application-0"].kills == 1 and workloads["application-0"].starts == 2
    assert [f.fault for f in app.latency_by_fault] == ["client_kill-0"]


def test_an_application_committing_after_it_writes_loses_nothing_and_its_logs_are_kept(
    run_experiment: Callable[..., Verdict], tmp_path: Path
) -> None:
    v = run_experiment(write(tmp_path, "relay-commit-after", commit_first=False))
    app = v.application
    assert app is not None and v.conclusive and v.loss.consumer == 0
    assert app.inputs_with_output == v.counts.sent and app.without_output_in_log == 0
    assert app.latency_ms is not None and app.latency_ms.records == v.counts.sent
    assert app.logs == ["application/application-0.log"]
    meta = json.dumps(app.model_dump())
    assert "BOOTSTRAP_SERVERS" not in meta  # the environment's names are in ledgers/application.json, never values
