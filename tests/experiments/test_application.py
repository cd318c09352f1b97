"""The team's application as a black box, end to end on a real cluster: a small relay program
(``tests/fixtures/apps/relay.py``, configured by its environment only) fed input in its own shape,
killed mid-flight, its output correlated through a JSON path and judged.

The Java example applications (Kafka Streams, a worker pool, a consumer that resets to latest) run as
claims rows A1 to A4 in ``experiments/`` (``scripts/setup``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import docker
from chaos.cluster import KafkaCluster
from chaos.experiments.loading import load_experiment
from chaos.experiments.runner import ExperimentRun, RunOptions
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
phases: {{warmup: 1, settle: 1, consume_quiet: 1}}
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


APPS = Path(__file__).resolve().parents[2] / "examples" / "apps" / "run"

CONTAINER = """\
name: worker-pool-in-a-container
producer: {{mode: async, rate: 300, settings: {{acks: all}}}}
application:
  image: {image}
  command: [kcapps.WorkerPoolApp]
  env:
    BOOTSTRAP_SERVERS: "${{bootstrap}}"
    INPUT_TOPIC: "${{input_topic}}"
    OUTPUT_TOPIC: "${{output_topic}}"
    GROUP_ID: "${{group}}"
    WORKERS: "2"
    WORK_MS: "10"
    APP_SETTINGS: "session.timeout.ms=6000"
  output: {{correlate: key}}
faults:
  - {{kind: client_kill, workload: application-0, at: 4, duration: 2}}
phases: {{warmup: 1, settle: 1, consume_quiet: 1}}
expect: {{consumer_loss: ">0", producer_loss: 0, broker_loss: 0}}
"""


@pytest.fixture
def app_image(engine: docker.DockerClient, tmp_path: Path) -> Iterator[str]:
    """The example worker-pool application as an image built here (the base image's Java, the app's
    classes and jars), removed afterwards."""
    import os
    import subprocess

    from chaos.images.recipes import base_tag

    cache = tmp_path / "cache"
    subprocess.run([str(APPS), "--build"], env={**os.environ, "KAFKA_CHAOS_CACHE": str(cache)}, check=True, timeout=600)
    (build,) = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith("apps-")]
    (build / "Dockerfile").write_text(
        f"FROM {base_tag()}\nCOPY classes /app/classes\nCOPY lib /app/lib\n"
        'ENTRYPOINT ["java", "-Xmx256m", "-cp", "/app/classes:/app/lib/*"]\n'
    )
    tag = f"kafka-chaos-test/worker-pool:{tmp_path.name[-8:].lower().replace('_', '-')}"
    engine.images.build(path=str(build), tag=tag, rm=True)
    try:
        yield tag
    finally:
        engine.images.remove(tag, force=True)


def test_an_application_in_a_container_is_killed_restarted_judged_and_removed(
    kafka_cluster: KafkaCluster, tmp_path: Path, app_image: str, engine: docker.DockerClient
) -> None:
    path = tmp_path / "container.yaml"
    path.write_text(CONTAINER.format(image=app_image))
    run = ExperimentRun(
        load_experiment(path), tmp_path / "run", RunOptions(reports_dir=tmp_path), cluster=kafka_cluster
    )
    result = run.run()
    v = result.verdict
    assert v is not None and v.passed, result.error
    app = v.application
    assert app is not None and v.loss.consumer is not None and v.loss.consumer > 0
    assert app.without_output_in_log == v.loss.consumer and app.uncorrelated == 0
    workloads = v.details.workloads or {}
    assert workloads["application-0"].kills == 1 and workloads["application-0"].starts == 2
    # the container is gone, its output kept: both starts' lines, from docker logs
    assert not engine.containers.list(all=True, filters={"ancestor": app_image})
    assert app.logs == ["application/application-0.log"]
    assert (tmp_path / "run" / app.logs[0]).read_text().count("worker-pool: consuming") == 2
